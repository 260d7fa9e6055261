// Bad input gets one clear line naming the Dockerfile line (or the flag), never a stack trace, a raw system
// error or a megabyte of message. Each build here is FROM scratch with no RUN: nothing executes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tar from "tar-stream";
import { cleanupInspected, inspectOciLayout, type InspectedImage } from "../support/image-assert.ts";
import { makeContext, runKiln } from "../support/kiln.ts";

const cleanup: string[] = [];
const inspected: InspectedImage[] = [];
let shortBody: Bun.TCPSocketListener;

beforeAll(() => {
  // Promises 5000 bytes, sends 1000 and closes: a dropped download.
  shortBody = Bun.listen({
    hostname: "127.0.0.1", port: 0,
    socket: { data(s) { s.write("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n" + "x".repeat(1000)); s.flush(); setTimeout(() => s.end(), 20); } },
  });
});
afterAll(async () => {
  shortBody?.stop(true);
  for (const i of inspected) await cleanupInspected(i);
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

type Entry = { name: string; body?: string; link?: string };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of pack) chunks.push(c as Buffer); })();
  for (const e of entries) {
    await new Promise<void>((res, rej) => {
      const cb = (err?: Error | null) => (err ? rej(err) : res());
      if (e.link !== undefined) pack.entry({ name: e.name, type: "link", linkname: e.link, mode: 0o644 }, cb);
      else pack.entry({ name: e.name, mode: 0o644 }, e.body ?? "", cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function build(dockerfile: string, files: Record<string, string | Buffer> = {}, flags: string[] = []) {
  const ctx = makeContext({ Dockerfile: dockerfile });
  cleanup.push(ctx);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(ctx, name), content);
  const out = join(mkdtempSync(join(tmpdir(), "kiln-bad-out-")), "oci");
  cleanup.push(join(out, ".."));
  const r = await runKiln(["--context", ctx, "--no-push", "--log-format", "text", "--oci-layout-path", out, ...flags]);
  return { ...r, out };
}

/** Exit 1 and exactly one short ERROR line that contains every needle; no stack trace. */
function expectOneLine(r: { code: number; stderr: string }, needles: string[]): string {
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("ERROR"));
  expect({ code: r.code, errors: errors.length }).toEqual({ code: 1, errors: 1 });
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(errors[0].length).toBeLessThan(600);
  for (const n of needles) expect(errors[0]).toContain(n);
  return errors[0];
}

describe("ADD", () => {
  test("a hardlink whose absolute target is in the archive links under the destination (Docker's untar)", async () => {
    const t = await tarOf([{ name: "d/a", body: "A\n" }, { name: "d/b", link: "/d/a" }]);
    const r = await build("FROM scratch\nADD links.tar /dest/\n", { "links.tar": t });
    expect(r.code).toBe(0);
    const img = await inspectOciLayout(r.out);
    inspected.push(img);
    expect(img.files.get("/dest/d/a")?.content).toBe("A\n");
    expect(img.files.get("/dest/d/b")).toMatchObject({ type: "hardlink", linkTarget: "/dest/d/a" });
  }, 60_000);

  test("a hardlink to an absolute path the archive lacks names the line, the archive and the entry", async () => {
    const t = await tarOf([{ name: "a", body: "A\n" }, { name: "b", link: "/etc/passwd" }]);
    const r = await build("FROM scratch\nADD links.tar /dest/\n", { "links.tar": t });
    expectOneLine(r, ["Dockerfile:2", "links.tar", 'entry "b"', '"/etc/passwd"', "does not exist"]);
    expect(r.stderr).not.toContain("ENOENT");
  }, 60_000);

  test("a download cut short names the URL, the line and the bytes received", async () => {
    const url = `http://127.0.0.1:${shortBody.port}/file.bin`;
    const r = await build(`FROM scratch\nADD ${url} /file.bin\n`);
    expectOneLine(r, ["Dockerfile:2", url, "the server closed the connection after 1000 of 5000 bytes"]);
  }, 60_000);
});

describe("expansion", () => {
  test("${a:-${a:-...}} nested 20,000 deep is refused in one short line", async () => {
    const n = 20_000;
    const r = await build(`FROM scratch\nLABEL x="${"${a:-".repeat(n)}x${"}".repeat(n)}"\n`);
    expectOneLine(r, ["Dockerfile:2", "nested more than 500 levels deep"]);
  }, 60_000);
});

describe("errors name the Dockerfile line", () => {
  const cases: [string, string, Record<string, string>, string[], string[]?][] = [
    ["USER naming an unknown user, at the WORKDIR that needs it", "COPY passwd /etc/passwd\nUSER nobody\nWORKDIR /work", { passwd: "root:x:0:0::/root:/bin/sh\n" },
      ["Dockerfile:4", 'no user "nobody"']],
    ["COPY --chown with an unknown user", "COPY --chown=nobody f.txt /f.txt", { "f.txt": "f\n" }, ["Dockerfile:2", 'no user "nobody"']],
    ["COPY --from naming no stage (pulled as an image, which fails)", "COPY --from=nostage /x /x", {},
      ["Dockerfile:2", "--from=nostage names no stage of this Dockerfile"],
      ["--registry-map", "index.docker.io=127.0.0.1:1", "--skip-default-registry-fallback"]],
    ["WORKDIR on a file", "COPY f.txt /f\nWORKDIR /f", { "f.txt": "f\n" }, ["Dockerfile:3", "/f exists and is not a directory"]],
    ["WORKDIR beneath a file", "COPY f.txt /f\nWORKDIR /f/sub", { "f.txt": "f\n" }, ["Dockerfile:3", "/f exists and is not a directory"]],
  ];
  for (const [name, lines, files, needles, flags] of cases) {
    test(name, async () => {
      const r = await build(`FROM scratch\n${lines}\n`, files, flags);
      expectOneLine(r, needles);
    }, 60_000);
  }
});

describe("flags", () => {
  test("a negative --push-retry and a missing certificate file exit 2 naming the flag", async () => {
    const retry = await runKiln(["--no-push", "--push-retry", "-5"]);
    expect(retry.code).toBe(2);
    expect(retry.stderr).toContain("--push-retry -5");
    const cert = await runKiln(["--no-push", "--registry-certificate", "reg.example.com=/missing.pem"]);
    expect(cert.code).toBe(2);
    expect(cert.stderr).toContain('--registry-certificate "reg.example.com=/missing.pem": /missing.pem does not exist');
    const client = await runKiln(["--no-push", "--registry-client-cert", "reg.example.com=/missing.pem,/missing.key"]);
    expect(client.code).toBe(2);
    expect(client.stderr).toContain("--registry-client-cert");
  }, 60_000);
});

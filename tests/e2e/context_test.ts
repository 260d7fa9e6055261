// Build contexts that are not a local directory, with the compiled binary: tar://PATH, tar://stdin, an https://
// tarball (served over TLS with a test CA the build trusts through SSL_CERT_FILE), --context-sub-path on every kind,
// a --dockerfile URL, and the archives a context must refuse: each gets one error line naming the source, exits
// non-zero, writes nothing outside and leaves nothing in the kaniko dir.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { badArchives, contextTarGz } from "../support/context-archives.ts";
import { BINARY, ensureBinary, makeContext, runKiln, type KilnRun } from "../support/kiln.ts";
import { layerPaths, layoutContains } from "../support/layers.ts";
import { makeCerts } from "../support/registry.ts";

const dirs: string[] = [];
const tmp = () => { const d = makeContext({}); dirs.push(d); return d; };
let server: ReturnType<typeof Bun.serve>;
let base = "";
let caFile = "";
const served = new Map<string, Uint8Array | string>();

// The Dockerfile sits in a sub-directory, beside a decoy at the top that a build ignoring the sub-path would use.
const FILES = {
  "Dockerfile": "FROM scratch\nCOPY . /wrong/\n",
  "svc/Dockerfile": "FROM scratch\nCOPY . /ctx/\n",
  "svc/app.txt": "kiln-context-e2e-payload\n",
};

beforeAll(async () => {
  await ensureBinary();
  const certDir = tmp();
  const { ca, cert, key } = await makeCerts(certDir);
  caFile = ca;
  server = Bun.serve({
    hostname: "127.0.0.1", port: 0, tls: { cert: Bun.file(cert), key: Bun.file(key) },
    fetch(req) {
      const body = served.get(new URL(req.url).pathname);
      return body === undefined ? new Response("no such file", { status: 404 }) : new Response(body);
    },
  });
  base = `https://127.0.0.1:${server.port}`;
  served.set("/ctx.tar.gz", contextTarGz(FILES));
  served.set("/Dockerfile", "FROM scratch\nCOPY svc/app.txt /from-url/app.txt\n");
}, 60_000);

afterAll(async () => {
  server?.stop(true);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** kiln (the binary) with standard input fed from `stdin` when given. */
async function kiln(args: string[], stdin?: Uint8Array): Promise<KilnRun & { kanikoDir: string }> {
  const kanikoDir = tmp();
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", SSL_CERT_FILE: caFile };
  const all = [...args, "--kaniko-dir", kanikoDir, "--log-format", "text"];
  if (!stdin) return { ...(await runKiln(all, { flavour: "binary", env })), kanikoDir };
  const p = Bun.spawn([BINARY, ...all], { stdin, stdout: "pipe", stderr: "pipe", env });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr, kanikoDir };
}

/** Builds with `--context-sub-path svc` into an OCI layout and checks the image holds svc's files only. */
async function buildsSvc(context: string, stdin?: Uint8Array) {
  const layout = join(tmp(), "layout");
  const r = await kiln(["--context", context, "--context-sub-path", "svc", "--no-push", "--oci-layout-path", layout], stdin);
  expect(r.stderr).not.toContain("ERROR");
  expect(r.code).toBe(0);
  expect((await layerPaths(layout)).flat().sort()).toEqual(["ctx", "ctx/Dockerfile", "ctx/app.txt"]);
  expect(layoutContains(layout, "kiln-context-e2e-payload")).toBe(true);
  // The fetched context went with the build's own directory.
  expect(readdirSync(r.kanikoDir).filter((n) => n !== "cache")).toEqual([]);
}

function tarFile(bytes: Uint8Array): string {
  const path = join(tmp(), "ctx.tar.gz");
  writeFileSync(path, bytes);
  return path;
}

describe("contexts", () => {
  test("tar://PATH with --context-sub-path", async () => {
    await buildsSvc(`tar://${tarFile(contextTarGz(FILES))}`);
  }, 60_000);

  test("tar://stdin with --context-sub-path", async () => {
    await buildsSvc("tar://stdin", contextTarGz(FILES));
  }, 60_000);

  test("an https:// tarball, trusted through SSL_CERT_FILE, with --context-sub-path", async () => {
    await buildsSvc(`${base}/ctx.tar.gz`);
  }, 60_000);

  test("dir:// and a plain path both take --context-sub-path (a plain path ignored it)", async () => {
    const dir = makeContext(FILES);
    dirs.push(dir);
    await buildsSvc(`dir://${dir}`);
    await buildsSvc(dir);
  }, 60_000);

  test("--dockerfile as an https:// URL is downloaded; the context still supplies the files", async () => {
    const layout = join(tmp(), "layout");
    const r = await kiln(["--context", `tar://${tarFile(contextTarGz(FILES))}`, "--dockerfile", `${base}/Dockerfile`, "--no-push", "--oci-layout-path", layout]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    expect((await layerPaths(layout)).flat().sort()).toEqual(["from-url", "from-url/app.txt"]);
  }, 60_000);
});

describe("bad context input: one line naming the source, exit 1, nothing left behind", () => {
  const refused = async (r: KilnRun & { kanikoDir: string }, source: string, error: RegExp | string) => {
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("ERROR"));
    expect(errors.length).toBe(1);
    expect(errors[0]).toContain(source);
    expect(errors[0]).toMatch(error);
    expect(r.code).toBe(1);
    expect(existsSync(join(r.kanikoDir, "builds")) ? readdirSync(join(r.kanikoDir, "builds")) : []).toEqual([]);
  };

  test("hostile or broken archives through tar://PATH and tar://stdin", async () => {
    for (const bad of badArchives()) {
      const path = tarFile(bad.bytes);
      await refused(await kiln(["--context", `tar://${path}`, "--no-push"]), `tar://${path}`, bad.error);
      await refused(await kiln(["--context", "tar://stdin", "--no-push"], bad.bytes), "tar://stdin", bad.error);
    }
    for (const p of ["/tmp/kiln-absolute-entry", "/tmp/kiln-through-symlink", join(tmpdir(), "escaped")]) expect(existsSync(p)).toBe(false);
  }, 120_000);

  test("a context over --context-size-limit, a missing tar file, a 404", async () => {
    const big = tarFile(contextTarGz({ ...FILES, "svc/big": "z".repeat(200_000) }));
    await refused(await kiln(["--context", `tar://${big}`, "--context-size-limit", "100KiB", "--no-push"]), `tar://${big}`,
      /the context is larger than the limit of 100 KiB; raise it with --context-size-limit/);
    const missing = join(tmp(), "none.tar.gz");
    await refused(await kiln(["--context", `tar://${missing}`, "--no-push"]), missing, /does not exist/);
    await refused(await kiln(["--context", `${base}/gone.tar.gz`, "--no-push"]), `${base}/gone.tar.gz`, /the server answered 404/);
    await refused(await kiln(["--context", `tar://${big}`, "--dockerfile", `${base}/gone/Dockerfile`, "--no-push"]), `--dockerfile ${base}/gone/Dockerfile`, /404/);
  }, 120_000);

  test("tar://stdin on a terminal says to pipe a tarball", async () => {
    // script(1) gives kiln a pseudo-terminal as standard input.
    const kanikoDir = tmp();
    const p = Bun.spawn(["script", "-qec", `${BINARY} --context tar://stdin --no-push --kaniko-dir ${kanikoDir} --log-format text`, "/dev/null"], {
      stdin: "pipe", stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root" },
    });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(out).toMatch(/ERROR --context tar:\/\/stdin: standard input is a terminal; pipe a gzip'd tar of the context in/);
    expect(code).toBe(1);
  }, 60_000);
});

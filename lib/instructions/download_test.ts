import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DownloadError, downloadTo } from "./download.ts";

const dir = mkdtempSync(join(tmpdir(), "kiln-download-"));
const BIG = 48 * 1024 * 1024;
let n = 0;
const out = () => join(dir, `f${n++}`);
// A deterministic body made chunk by chunk, never held whole by the server either.
const chunk = (i: number) => new Uint8Array(1 << 20).fill(i & 0xff);
let web: ReturnType<typeof Bun.serve>;
let raw: Bun.TCPSocketListener;

beforeAll(() => {
  web = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    fetch(req) {
      const p = new URL(req.url).pathname;
      if (p === "/big") {
        let i = 0;
        const body = new ReadableStream({ pull(c) { if (i * (1 << 20) >= BIG) c.close(); else c.enqueue(chunk(i++)); } });
        return new Response(body, { headers: { "Content-Length": String(BIG), "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT" } });
      }
      return new Response("gone", { status: 410, statusText: "Gone" });
    },
  });
  // Promises 5000 bytes and sends 1000, then closes: what a dropped connection looks like.
  raw = Bun.listen({
    hostname: "127.0.0.1", port: 0,
    socket: { data(s) { s.write("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n" + "x".repeat(1000)); s.flush(); setTimeout(() => s.end(), 20); } },
  });
});
afterAll(() => {
  web.stop(true);
  raw.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

test("a large body streams to the file: size, sha256, mode 0600 and Last-Modified", async () => {
  const file = out();
  const got = await downloadTo(`http://127.0.0.1:${web.port}/big`, file);
  const h = createHash("sha256");
  for (let i = 0; i * (1 << 20) < BIG; i++) h.update(chunk(i));
  expect(got).toEqual({ sha256: h.digest("hex"), size: BIG, mtime: new Date("2015-10-21T07:28:00Z") });
  expect(statSync(file).size).toBe(BIG);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(readFileSync(file).subarray(BIG - 1)[0]).toBe((BIG / (1 << 20) - 1) & 0xff);
});

test("a body cut short names the URL and the bytes received of those promised", async () => {
  const url = `http://127.0.0.1:${raw.port}/short`;
  const err = await downloadTo(url, out()).catch((e) => e);
  expect(err).toBeInstanceOf(DownloadError);
  expect(err.message).toBe(`downloading ${url}: the server closed the connection after 1000 of 5000 bytes`);
});

test("an HTTP error status and an unreachable server", async () => {
  const url = `http://127.0.0.1:${web.port}/nope`;
  await expect(downloadTo(url, out())).rejects.toThrow(`downloading ${url} failed: HTTP 410 Gone`);
  await expect(downloadTo("http://127.0.0.1:1/x", out())).rejects.toThrow(/downloading http:\/\/127.0.0.1:1\/x failed/);
});

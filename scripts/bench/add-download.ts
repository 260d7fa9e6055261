// ADD <url>'s download: a generated body of N MiB from a Bun.serve on 127.0.0.1, written to a temp file by the
// download function ADD uses, while this process's peak RSS is watched. Goal: peak RSS flat whatever the size.
// Usage: bun scripts/bench/add-download.ts [MiB=1536]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadTo } from "../../lib/instructions/download.ts";

const mib = Number(process.argv[2] ?? 1536);
const CHUNK = new Uint8Array(1 << 20).fill(0x61);
const server = Bun.serve({
  hostname: "127.0.0.1", port: 0,
  fetch() {
    let sent = 0;
    const body = new ReadableStream({ pull(c) { if (sent++ >= mib) c.close(); else c.enqueue(CHUNK); } }, { highWaterMark: 0 });
    return new Response(body, { headers: { "Content-Length": String(mib * CHUNK.byteLength) } });
  },
});
const dir = mkdtempSync(join(tmpdir(), "bench-download-"));
const rssBefore = process.resourceUsage().maxRSS / 1024;
const t0 = performance.now();
try {
  const got = await downloadTo(`http://127.0.0.1:${server.port}/big`, join(dir, "download"));
  const s = (performance.now() - t0) / 1000;
  console.log(`downloaded ${(got.size / 2 ** 20).toFixed(0)} MiB in ${s.toFixed(2)} s (${(got.size / 2 ** 20 / s).toFixed(0)} MiB/s); ` +
    `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (${rssBefore.toFixed(0)} MiB before; server in the same process)`);
} finally {
  server.stop(true);
  rmSync(dir, { recursive: true, force: true });
}

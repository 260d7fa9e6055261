// Push and pull+verify throughput of one large layer between kiln's registry client and a loopback distribution
// registry, beside curl moving the same blob to and from the same kind of registry in the same run.
// Each push goes to a fresh registry (so nothing is deduplicated); rounds alternate curl and kiln.
// Usage: bun scripts/bench/registry-throughput.ts [MiB=500] [rounds=3]
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileLayer, type Image } from "../../lib/image/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { RegistryClient } from "../../lib/registry/mod.ts";
import { startRegistry, type TestRegistry } from "../../tests/support/registry.ts";

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 500);
const rounds = Number(process.argv[3] ?? 3);
const dir = await mkdtemp(join(tmpdir(), "kiln-bench-reg-"));

async function sh(cmd: string[]): Promise<string> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (${code}): ${err}`);
  return out;
}

/** Random bytes, so nothing on the way can compress them; written in 16 MiB pieces. */
async function makeBlob(path: string, bytes: number): Promise<string> {
  const w = Bun.file(path).writer();
  const h = new Bun.CryptoHasher("sha256");
  const piece = new Uint8Array(16 * MiB);
  for (let left = bytes; left > 0; left -= piece.byteLength) {
    const chunk = piece.subarray(0, Math.min(left, piece.byteLength));
    for (let o = 0; o < chunk.byteLength; o += 65536) crypto.getRandomValues(chunk.subarray(o, o + 65536));
    h.update(chunk);
    w.write(chunk);
  }
  await w.end();
  return `sha256:${h.digest("hex")}`;
}

function imageOf(path: string, digest: string, size: number): Image {
  // The bytes are not a tar; the registry does not care, and neither does the client's transport.
  const layer = fileLayer({ path, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size, diffID: digest });
  return {
    format: "oci",
    layers: [layer],
    config: { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [digest] }, config: {} },
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

async function curlPush(reg: TestRegistry, path: string, digest: string): Promise<void> {
  const headers = await sh(["curl", "-sS", "-D", "-", "-o", "/dev/null", "-X", "POST", `${reg.url}/v2/bench/curl/blobs/uploads/`]);
  const loc = /^location:\s*(\S+)/im.exec(headers)?.[1];
  if (!loc) throw new Error(`no upload location from ${reg.url}: ${headers}`);
  const url = new URL(loc, reg.url);
  url.searchParams.set("digest", digest);
  // -T streams the file as the PUT body (--data-binary would read it into memory first).
  const code = await sh(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", path, "-H", "content-type: application/octet-stream", url.toString()]);
  if (code.trim() !== "201") throw new Error(`curl upload answered ${code}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (s: number) => (sizeMiB * MiB) / 1e6 / s;

try {
  const blob = join(dir, "layer.bin");
  const bytes = sizeMiB * MiB;
  const digest = await makeBlob(blob, bytes);
  const image = imageOf(blob, digest, bytes);
  const t = { curlPush: [] as number[], kilnPush: [] as number[], curlPull: [] as number[], curlVerify: [] as number[], kilnPull: [] as number[] };
  let peakRss = 0;
  const sample = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  for (let r = 0; r < rounds; r++) {
    const order: ("curl" | "kiln")[] = r % 2 === 0 ? ["curl", "kiln"] : ["kiln", "curl"];
    for (const who of order) {
      const reg = await startRegistry();
      try {
        const client = new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host] });
        if (who === "curl") {
          t.curlPush.push(await timed(() => curlPush(reg, blob, digest)));
          t.curlPull.push(await timed(() => sh(["curl", "-sS", "-f", "-o", "/dev/null", `${reg.url}/v2/bench/curl/blobs/${digest}`])));
          // What verifying costs curl users: the same download piped through coreutils' sha256sum.
          t.curlVerify.push(await timed(async () => {
            const sum = await sh(["sh", "-c", `curl -sS -f ${reg.url}/v2/bench/curl/blobs/${digest} | sha256sum`]);
            if (`sha256:${sum.split(" ")[0]}` !== digest) throw new Error("curl | sha256sum: digest mismatch");
          }));
        } else {
          t.kilnPush.push(await timed(() => client.push(image, [`${reg.host}/bench/kiln:1`])));
          // A fresh client: the pull pays its own ping and manifest round trips, as a build's does.
          const puller = new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host] });
          t.kilnPull.push(await timed(async () => {
            const pulled = await puller.pull(`${reg.host}/bench/kiln:1`, { os: "linux", architecture: "amd64" });
            // Read and verify (sha256 + size) the whole layer stream, discarding the bytes.
            const reader = (await pulled.image.layers[0].open()).getReader();
            for (;;) if ((await reader.read()).done) break;
          }));
        }
      } finally {
        await reg.stop();
      }
    }
  }
  clearInterval(sample);
  const line = (name: string, xs: number[], vs: number[]) =>
    `| ${name} | ${xs.map((s) => rate(s).toFixed(0)).join(", ")} | ${rate(median(xs)).toFixed(0)} MB/s | ${(100 * median(vs) / median(xs)).toFixed(0)}% |`;
  console.log(`${sizeMiB} MiB random blob (${digest.slice(0, 19)}), ${rounds} rounds, fresh loopback registry per transfer`);
  console.log("| transfer | per round (MB/s) | median | kiln vs curl (time ratio curl/kiln) |");
  console.log("|---|---|---|---|");
  console.log(line("push curl -T", t.curlPush, t.curlPush));
  console.log(line("push kiln", t.kilnPush, t.curlPush));
  console.log(line("pull curl -o /dev/null", t.curlPull, t.curlPull));
  console.log(line("pull curl | sha256sum", t.curlVerify, t.curlPull));
  console.log(line("pull+verify kiln", t.kilnPull, t.curlPull));
  console.log(`peak RSS of this process (kiln client side): ${(peakRss / MiB).toFixed(0)} MiB`);
} finally {
  await rm(dir, { recursive: true, force: true });
}

import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmod, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SCRIPT = join(import.meta.dir, "test-env.sh");

let bin: string;

beforeAll(async () => {
  // A PATH holding every tool but skopeo, so the script sees one package missing
  // while the host stays untouched.
  bin = await mkdtemp(join(tmpdir(), "kiln-test-env-"));
  await chmod(bin, 0o755); // the unprivileged run must be able to search it
  for (const tool of ["id", "dpkg-query", "mktemp", "cat", "rm", "docker-registry", "umoci", "jq", "openssl", "unshare", "patchelf", "dockerd", "getfattr", "runc", "slirp4netns", "gcc", "podman", "catatonit", "qemu-aarch64-static", "git"]) {
    const found = Bun.which(tool);
    if (found) await symlink(found, join(bin, tool));
  }
});

afterAll(async () => {
  await rm(bin, { recursive: true, force: true });
});

async function run(cmd: string[], env: Record<string, string>) {
  const p = Bun.spawn(cmd, { env, stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, stdout, stderr };
}

test("with every tool present it only checks", async () => {
  const r = await run(["/bin/bash", SCRIPT], { PATH: process.env.PATH ?? "/usr/bin:/bin" });
  expect(r.stderr).toBe("");
  expect(r.stdout).toContain("all tools present");
  expect(r.code).toBe(0);
});

const isRoot = process.getuid?.() === 0;

// setpriv needs root to become nobody; the install path is only taken as root.
test.skipIf(!isRoot)("without root it prints the exact install command for what is missing and exits 1", async () => {
  const r = await run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/bash", SCRIPT], { PATH: bin });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("missing packages: skopeo\n");
  expect(r.stderr).toContain(
    "sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends skopeo\n",
  );
});

test.skipIf(!isRoot)("as root it reports a failed install with apt's output", async () => {
  // apt-get is not on this PATH, so the install step fails before touching the system.
  const r = await run(["/bin/bash", SCRIPT], { PATH: bin });
  expect(r.code).toBe(1);
  expect(r.stdout).toContain("installing skopeo");
  expect(r.stderr).toContain("apt-get: command not found");
  expect(r.stderr).toContain("apt-get install skopeo failed");
});

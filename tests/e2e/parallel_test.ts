// Independent stages build at the same time in the isolated mode. Proof without timing: two stages meet through a
// shared cache mount, each waiting (bounded) for the other's mark; built one after the other, the first would
// give up and record "alone".
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useBusyboxRegistry } from "../support/e2e.ts";
import { cleanupInspected, inspectOciLayout } from "../support/image-assert.ts";
import { makeContext, runKiln } from "../support/kiln.ts";


const fx = useBusyboxRegistry();

const meet = (me: string, other: string) =>
  `RUN --mount=type=cache,id=rendezvous,target=/rv sh -c 'touch /rv/${me}; i=0; while [ ! -e /rv/${other} ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done; if [ -e /rv/${other} ]; then echo together; else echo alone; fi > /${me}.txt'`;

async function build(dockerfile: string) {
  const ctx = makeContext({ Dockerfile: dockerfile });
  fx.keep(ctx);
  const outDir = fx.tmp("kiln-par-");
  const out = join(outDir, "oci");
  const r = await runKiln(["--context", ctx, "--no-push", "--insecure-registry", fx.reg.host, "--oci-layout-path", out]);
  return { ...r, out };
}

test("independent stages run concurrently; the final stage waits for both", async () => {
  const r = await build(`FROM ${fx.base} AS a
${meet("a", "b")}
FROM ${fx.base} AS b
${meet("b", "a")}
FROM ${fx.base}
COPY --from=a /a.txt /a.txt
COPY --from=b /b.txt /b.txt
`);
  expect(r.stderr).not.toContain("ERROR");
  expect(r.code).toBe(0);
  const img = await inspectOciLayout(r.out);
  try {
    expect(img.files.get("/a.txt")?.content).toBe("together\n");
    expect(img.files.get("/b.txt")?.content).toBe("together\n");
  } finally {
    await cleanupInspected(img);
  }
}, 90_000);

test("a failing stage fails the build with its exit code while another stage runs, and writes nothing", async () => {
  const r = await build(`FROM ${fx.base} AS slow
RUN sleep 1 && echo done > /slow.txt
FROM ${fx.base} AS broken
RUN exit 7
FROM ${fx.base}
COPY --from=slow /slow.txt /
COPY --from=broken /etc/passwd /p
`);
  expect(r.code).toBe(7);
  expect(r.stderr).toContain("exit 7");
  expect(existsSync(r.out)).toBe(false);
}, 90_000);

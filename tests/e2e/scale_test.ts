// A Dockerfile's cost grows linearly with its length: 30,000 metadata instructions build in a second or two, well
// within the test's timeout (they took most of a minute when every step copied and re-sorted the config's maps and
// the history). Timing itself is measured by scripts/bench/dockerfile-scale.ts, not asserted here.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanupInspected, inspectOciLayout, type InspectedImage } from "../support/image-assert.ts";
import { makeContext, runKiln } from "../support/kiln.ts";

const cleanup: string[] = [];
const inspected: InspectedImage[] = [];
afterAll(async () => {
  for (const i of inspected) await cleanupInspected(i);
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

const N = 30_000;

/** Mostly LABELs (some overriding an earlier key), ENVs reading earlier ENVs, ARGs, and LABELs reading those ARGs. */
function dockerfile(): string {
  const lines = ["FROM scratch"];
  for (let i = 0; i < N; i++) {
    const k = i % 20;
    if (k === 17) lines.push(`ENV E${i}=e${i} LAST=\${E${i - 20}:-none}`);
    else if (k === 18) lines.push(`ARG A${i}=a${i}`);
    else if (k === 19) lines.push(`LABEL from-arg${i}=$A${i - 1}`);
    else lines.push(i % 400 === 0 ? `LABEL l${i}=v${i} first=over${i}` : `LABEL l${i}=v${i}`);
  }
  return lines.join("\n") + "\n";
}

test(`a Dockerfile of ${N} LABEL, ENV and ARG instructions builds with the right config`, async () => {
  const ctx = makeContext({ Dockerfile: dockerfile() });
  cleanup.push(ctx);
  const outDir = mkdtempSync(join(tmpdir(), "kiln-scale-"));
  cleanup.push(outDir);
  const r = await runKiln(["--context", ctx, "--no-push", "--verbosity", "warn", "--oci-layout-path", join(outDir, "oci")]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const img = await inspectOciLayout(join(outDir, "oci"));
  inspected.push(img);
  const c = img.config.config;

  const labels = c.Labels as Record<string, string>;
  expect(Object.keys(labels).length).toBe((N / 20) * 17 + N / 20 + 1);
  expect(labels.l0).toBe("v0");
  expect(labels[`l${N - 4}`]).toBe(`v${N - 4}`);
  expect(labels.first).toBe(`over${N - 400}`);
  expect(labels[`from-arg${N - 1}`]).toBe(`a${N - 2}`);
  // Go's map order, as Docker writes it.
  const keys = Object.keys(labels);
  expect(keys).toEqual([...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

  const env = c.Env as string[];
  expect(env.length).toBe(1 + N / 20 + 1); // PATH, the E variables, LAST
  expect(env[0]).toStartWith("PATH=");
  expect(env[1]).toBe("E17=e17");
  // LAST keeps the place the first ENV gave it; the last ENV (E${N - 3}) set it from E${N - 23}.
  expect(env[2]).toBe(`LAST=e${N - 23}`);
  expect(env.at(-1)).toBe(`E${N - 3}=e${N - 3}`);

  expect(img.config.history.length).toBe(N);
  expect(img.config.history.every((h: { empty_layer?: boolean }) => h.empty_layer)).toBe(true);
  expect(img.config.history.at(-1).created_by).toBe(`LABEL from-arg${N - 1}=a${N - 2}`);
  expect(img.layers).toBe(0);
}, 30_000);

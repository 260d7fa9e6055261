// Runs every conformance case (tests/conformance/<case>/): Docker BuildKit and kiln build the same Dockerfile and
// context, and the images must match (see harness.ts and README.md). KILN_CONFORMANCE_CASES=a,b runs only those.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startDocker, type TestDocker } from "../support/docker.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { pushBusybox, pushBusyboxIndex } from "../support/base-images.ts";
import { ensureArm64Emulation } from "../support/binfmt.ts";
import { runTool } from "../support/image-assert.ts";
import { loadCases, pool, pushSupportImages, runCase, type CaseResult } from "./harness.ts";

const only = process.env.KILN_CONFORMANCE_CASES?.split(",").filter(Boolean);
const cases = loadCases().filter((c) => !only || only.includes(c.name));
let docker: TestDocker | undefined;
let reg: TestRegistry | undefined;
let results: Promise<CaseResult>[] = [];

beforeAll(async () => {
  reg = await startRegistry();
  const busybox = await pushBusybox(reg);
  const baseConfig = JSON.parse(await runTool(["skopeo", "inspect", "--config", "--tls-verify=false", `docker://${busybox}`]));
  if (cases.some((c) => !c.expected)) docker = await startDocker();
  // Cases run for another platform (case.json "platforms") build FROM a two-platform busybox, under emulation.
  let busyboxMulti: string | undefined;
  if (cases.some((c) => c.options.platform)) {
    const why = ensureArm64Emulation();
    if (why) throw new Error(why);
    busyboxMulti = await pushBusyboxIndex(reg);
  }
  const env = { docker, busybox, busyboxMulti, registry: reg.host, baseHistoryLength: (baseConfig.history ?? []).length };
  if (docker) await pushSupportImages(env);
  // Two cases at a time keeps both cores busy without the builds fighting over them.
  results = pool(cases, 2, (c) => runCase(c, env));
  // A failing case must not leave the others' promises unobserved.
  for (const r of results) r.catch(() => {});
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(results);
  await docker?.stop();
  await reg?.stop();
}, 60_000);

test("there are at least 60 conformance cases, and KILN_CONFORMANCE_CASES names only cases that exist", () => {
  expect(loadCases().length).toBeGreaterThanOrEqual(60);
  // A misspelt name would otherwise run nothing and pass.
  expect((only ?? []).filter((name) => !cases.some((c) => c.name === name))).toEqual([]);
  expect(cases.length).toBeGreaterThan(0);
});

for (const [i, c] of cases.entries()) {
  test(`conformance: ${c.name}`, async () => {
    const r = await results[i];
    expect(r.differences).toEqual([]);
  }, 300_000);
}

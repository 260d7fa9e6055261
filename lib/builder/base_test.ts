import { expect, test } from "bun:test";
import type { Image, Platform } from "../image/mod.ts";
import { buildImages, resolveBase, type BaseSources } from "./base.ts";
import { BuildError } from "./errors.ts";
import type { StageResult } from "./stage.ts";

const amd64: Platform = { os: "linux", architecture: "amd64" };
const where = { file: "Dockerfile", line: 3 };

function image(label: string): Image {
  return { format: "oci", layers: [], config: { os: "linux", architecture: "amd64", config: { Labels: { label } }, rootfs: { type: "layers", diff_ids: [] } } };
}

/** Sources with a fake puller that records what it was asked for. */
function sources(stages: Record<string, StageResult> = {}, pull: BaseSources["pull"] = async () => image("pulled")) {
  const pulls: [string, Platform][] = [];
  const s: BaseSources = {
    earlierStage: async (name) => stages[name],
    pull: (ref, platform) => { pulls.push([ref, platform]); return pull(ref, platform); },
  };
  return { s, pulls };
}

test("scratch is an empty image for the platform with WorkingDir \"/\", pulled from nowhere", async () => {
  const { s, pulls } = sources();
  const base = await resolveBase("SCRATCH", { os: "linux", architecture: "arm64", variant: "v8" }, s, where);
  expect(base.image.layers).toEqual([]);
  expect(base.image.config.config.WorkingDir).toBe("/");
  expect(base.image.config).toMatchObject({ os: "linux", architecture: "arm64", variant: "v8" });
  expect(base.root).toBeUndefined();
  expect(pulls).toEqual([]);
});

test("an earlier stage is the base with its root, even when an image of that name exists", async () => {
  const root = async () => "/roots/0";
  const { s, pulls } = sources({ builder: { image: image("stage"), root } });
  const base = await resolveBase("builder", amd64, s, where);
  expect(base.image.config.config.Labels).toEqual({ label: "stage" });
  expect(base.root).toBe(root);
  expect(pulls).toEqual([]);
});

test("anything else is pulled for the stage's platform; a failed pull names the FROM line", async () => {
  const { s, pulls } = sources();
  const base = await resolveBase("registry.example.com/app:1", amd64, s, where);
  expect(base.image.config.config.Labels).toEqual({ label: "pulled" });
  expect(base.root).toBeUndefined();
  expect(pulls).toEqual([["registry.example.com/app:1", amd64]]);

  const failing = sources({}, async () => { throw new Error("manifest unknown"); });
  const err = await resolveBase("nope:1", amd64, failing.s, where).catch((e) => e);
  expect(err).toBeInstanceOf(BuildError);
  expect(err.message).toBe("Dockerfile:3: FROM nope:1: manifest unknown");
  expect(err.step).toEqual(where);
});

test("the base-image cache is asked before the registry; a miss there pulls", async () => {
  const asked: [string, Platform][] = [];
  const { s, pulls } = sources();
  s.pull = buildImages(s.pull, { get: async (ref, platform) => (asked.push([ref, platform]), ref === "warmed:1" ? image("cached") : undefined) });
  expect((await resolveBase("warmed:1", amd64, s, where)).image.config.config.Labels).toEqual({ label: "cached" });
  expect(pulls).toEqual([]);
  expect((await resolveBase("cold:1", amd64, s, where)).image.config.config.Labels).toEqual({ label: "pulled" });
  expect(pulls).toEqual([["cold:1", amd64]]);
  expect(asked).toEqual([["warmed:1", amd64], ["cold:1", amd64]]);
});

test("a build fetches each image and platform once, however many ask; a failed fetch is asked again", async () => {
  const arm64: Platform = { os: "linux", architecture: "arm64" };
  const { s, pulls } = sources();
  const images = buildImages(s.pull);
  const [a, b] = await Promise.all([images("app:1", amd64), images("app:1", amd64)]);
  expect(a).toBe(b);
  await images("app:1", arm64);
  expect(pulls).toEqual([["app:1", amd64], ["app:1", arm64]]);

  let fail = true;
  const flaky = buildImages(async () => { if (fail) throw new Error("503"); return image("pulled"); });
  expect(await flaky("app:1", amd64).catch((e) => e.message)).toBe("503");
  fail = false;
  expect((await flaky("app:1", amd64)).config.config.Labels).toEqual({ label: "pulled" });
});

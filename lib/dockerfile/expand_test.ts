import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DockerfileError, expandInstruction, parseDockerfile, resolveMetaArgs, resolveStageBase } from "./mod.ts";
import { at, parseFixtureCases, project } from "../../tests/support/fixture-cases.ts";

// Same format as parse.txt, with an "--- env" block and an "--- error" check.
const loadCases = () => parseFixtureCases(readFileSync(join(import.meta.dir, "testdata", "expand.txt"), "utf8"));

describe("expandInstruction (testdata/expand.txt)", () => {
  const cases = loadCases();
  test("has cases", () => expect(cases.length).toBeGreaterThanOrEqual(20));
  for (const c of cases) {
    test(`${c.title} (expand.txt:${c.line})`, () => {
      const df = parseDockerfile(c.input, { file: "Dockerfile" });
      const stage = df.stages[df.stages.length - 1];
      const lookup = (n: string) => (Object.hasOwn(c.env, n) ? c.env[n] : undefined);
      const run = () => stage.instructions.map((i) => expandInstruction(i, lookup, df.escape, df.file));
      const error = c.checks.find((ch) => ch.path === "error");
      if (error) {
        expect(run).toThrow(DockerfileError);
        expect(run).toThrow(error.expected as string);
        return;
      }
      const expanded = run();
      for (const check of c.checks) {
        expect({ path: check.path, value: project(at(expanded, check.path), check.expected) }).toEqual({
          path: check.path,
          value: check.expected,
        });
      }
      // Expansion returns copies; the parse result keeps the words as written.
      expect(parseDockerfile(c.input, { file: "Dockerfile" }).stages).toEqual(df.stages);
    });
  }
});

describe("meta ARGs and FROM", () => {
  const text = [
    "ARG REGISTRY=docker.io",
    "ARG IMAGE=${REGISTRY}/library/busybox",
    "ARG TAG",
    "ARG TARGETARCH",
    "FROM --platform=$BUILDPLATFORM ${IMAGE}:${TAG:-latest} AS build",
    "FROM ${UNSET_BASE}",
    "",
  ].join("\n");
  const df = parseDockerfile(text, { file: "Dockerfile" });

  test("defaults chain through earlier meta args", () => {
    const args = resolveMetaArgs(df, {});
    expect(args.get("IMAGE")).toBe("docker.io/library/busybox");
    expect(args.has("TAG")).toBe(true);
    expect(args.get("TAG")).toBeUndefined();
  });

  test("build args override defaults and feed later defaults", () => {
    const args = resolveMetaArgs(df, { REGISTRY: "127.0.0.1:5000", TAG: "1.36" });
    expect(args.get("IMAGE")).toBe("127.0.0.1:5000/library/busybox");
    expect(resolveStageBase(df.stages[0], args)).toEqual({ image: "127.0.0.1:5000/library/busybox:1.36", platform: "" });
  });

  test("builtins are visible to FROM; a bare meta ARG of the same name unsets one (Docker 20.10's BuildKit)", () => {
    const args = resolveMetaArgs(df, {}, { BUILDPLATFORM: "linux/amd64", TARGETARCH: "arm64" });
    expect(args.has("TARGETARCH")).toBe(true);
    expect(args.get("TARGETARCH")).toBeUndefined();
    expect(resolveMetaArgs(df, { TARGETARCH: "s390x" }, { TARGETARCH: "arm64" }).get("TARGETARCH")).toBe("s390x");
    expect(resolveStageBase(df.stages[0], args)).toEqual({
      image: "docker.io/library/busybox:latest",
      platform: "linux/amd64",
    });
  });

  test("a FROM that expands to nothing is an error naming the line", () => {
    const args = resolveMetaArgs(df, {});
    expect(() => resolveStageBase(df.stages[1], args)).toThrow("Dockerfile:6: base name (${UNSET_BASE}) should not be blank");
  });

  test("a malformed meta ARG default fails with its line", () => {
    const bad = parseDockerfile("ARG A=${\nFROM x\n", { file: "Dockerfile" });
    expect(() => resolveMetaArgs(bad, {})).toThrow("Dockerfile:1: failed to process");
  });
});

import { test, expect } from "bun:test";
import { parseReference, formatReference, familiarName, ReferenceError } from "./reference.ts";
import { parsePlatform, formatPlatform, platformMatches } from "./platform.ts";

const ok: [string, string, string][] = [
  ["busybox", "index.docker.io/library/busybox:latest", "busybox:latest"],
  ["docker.io/library/busybox:1.36", "index.docker.io/library/busybox:1.36", "busybox:1.36"],
  ["user/app", "index.docker.io/user/app:latest", "docker.io/user/app:latest"],
  ["localhost/app", "localhost/app:latest", "localhost/app:latest"],
  ["localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t"],
  ["127.0.0.1:5000/app:v1", "127.0.0.1:5000/app:v1", "127.0.0.1:5000/app:v1"],
  ["gcr.io/p/img@sha256:" + "a".repeat(64), "gcr.io/p/img@sha256:" + "a".repeat(64), "gcr.io/p/img@sha256:" + "a".repeat(64)],
  ["reg.io/img:t@sha256:" + "b".repeat(64), "reg.io/img:t@sha256:" + "b".repeat(64), "reg.io/img:t@sha256:" + "b".repeat(64)],
];

test.each(ok)("%p parses with Docker's defaults", (input, canonical, familiar) => {
  const r = parseReference(input);
  expect(formatReference(r)).toBe(canonical);
  expect(familiarName(r)).toBe(familiar);
});

test.each(["", "UPPER/case", "a//b", "img:bad tag", "img@sha256:short", ":tag"])("%p is rejected", (input) => {
  expect(() => parseReference(input)).toThrow(ReferenceError);
});

test("upper case repository names say so", () => {
  expect(() => parseReference("reg.io/MyApp")).toThrow(/lowercase/);
});

test("platforms normalise as containerd does", () => {
  expect(parsePlatform("linux/x86_64")).toEqual({ os: "linux", architecture: "amd64" });
  expect(parsePlatform("linux/arm64/v8")).toEqual({ os: "linux", architecture: "arm64" });
  expect(formatPlatform(parsePlatform("linux/arm/v7"))).toBe("linux/arm/v7");
  expect(() => parsePlatform("linux")).toThrow(/os\/arch/);
  expect(platformMatches(parsePlatform("linux/arm/v7"), { os: "linux", architecture: "arm", variant: "v6" })).toBe(false);
  expect(platformMatches(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64" })).toBe(true);
});

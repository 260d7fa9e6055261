import { expect, test } from "bun:test";
import { inPlaceIgnorePaths, isolatedIgnorePaths } from "./mod.ts";

test("the in-place keep-list: kaniko's paths, kiln's dir, the context, mounts and --ignore-path, once each, never /", () => {
  const mountinfo = [
    "22 1 0:21 / / rw - overlay overlay rw",
    "23 22 0:22 / /proc rw - proc proc rw",
    "24 22 0:23 / /workspace rw - ext4 /dev/sda1 rw",
  ].join("\n");
  const list = inPlaceIgnorePaths({ workDir: "/kaniko", contextDir: "/workspace", mountinfo, extraIgnorePaths: ["/var/run", "/"] });
  expect(list).toEqual(["/kaniko", "/proc", "/sys", "/dev", "/etc/mtab", "/busybox", "/tmp/apt-key-gpghome", "/workspace", "/var/run"]);
});

test("the isolated mode's list: the kernel filesystems RUN mounts, then --ignore-path", () => {
  expect(isolatedIgnorePaths(["/cache"])).toEqual(["/proc", "/sys", "/dev", "/cache"]);
});

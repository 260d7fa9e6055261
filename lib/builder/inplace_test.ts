import { test, expect } from "bun:test";
import { InPlaceRoot } from "./inplace.ts";
import { silentLogger } from "../log/mod.ts";

const MOUNTINFO = [
  "300 200 254:1 /tmp/ctr/root / rw - ext4 /dev/vda1 rw",
  "301 300 0:60 / /proc rw - proc proc rw",
  "302 300 0:5 / /dev rw - devtmpfs udev rw",
  "303 300 254:1 /home/me/app /workspace rw - ext4 /dev/vda1 rw",
  "304 300 254:1 /etc/hosts /etc/hosts ro - ext4 /dev/vda1 rw",
  "305 300 0:70 / /cache\\040dir rw - tmpfs tmpfs rw",
].join("\n");

test("the in-place ignore list: kiln's dirs, every mount, the context, --ignore-path; never / itself", () => {
  const r = new InPlaceRoot({
    workDir: "/scratch/kiln", contextDir: "/src/ctx", mountinfo: MOUNTINFO, extraIgnorePaths: ["/var/run", "/data"], logger: silentLogger, tmpDir: "/tmp",
  });
  expect(r.dir).toBe("/");
  for (const p of ["/kaniko", "/scratch/kiln", "/src/ctx", "/proc", "/dev", "/sys", "/workspace", "/etc/hosts", "/cache dir", "/busybox", "/var/run", "/data"]) {
    expect(r.ignorePaths).toContain(p);
  }
  expect(r.ignorePaths).not.toContain("/");
  expect(new Set(r.ignorePaths).size).toBe(r.ignorePaths.length);
});

import { test, expect } from "bun:test";
import { chooseMode, containerEvidence, ModeError, realSurroundings, type Surroundings } from "./mode.ts";

const HOST_MOUNTINFO = "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n23 22 0:5 / /dev rw - devtmpfs udev rw\n";
const BIND_MOUNTINFO = "300 200 254:1 /tmp/kiln-ctr-x/root / rw,relatime - ext4 /dev/vda1 rw\n";
const OVERLAY_MOUNTINFO = "500 400 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/a\n";

function surroundings(o: Partial<Surroundings> & { files?: Record<string, string> } = {}): Surroundings {
  const files = { "/proc/self/mountinfo": HOST_MOUNTINFO, "/proc/1/cgroup": "9:name=systemd:/\n", "/.dockerenv": "", ...o.files };
  return {
    execPath: o.execPath ?? "/work/main/dist/kiln",
    env: o.env ?? {},
    readFile: (p) => files[p as keyof typeof files],
    exists: (p) => p in files,
  };
}

test("isolated everywhere by default outside the executor image; in-place there", () => {
  expect(chooseMode({ force: false }, surroundings())).toBe("isolated");
  expect(chooseMode({ force: false }, surroundings({ execPath: "/kaniko/executor", files: { "/proc/self/mountinfo": OVERLAY_MOUNTINFO } }))).toBe("in-place");
  expect(chooseMode({ force: false, isolation: "isolated" }, surroundings({ execPath: "/kaniko/executor" }))).toBe("isolated");
});

test("in-place outside the executor image is refused without --force, with advice", () => {
  const err = (() => { try { chooseMode({ force: false, isolation: "in-place" }, surroundings()); } catch (e) { return e; } })();
  expect(err).toBeInstanceOf(ModeError);
  expect((err as Error).message).toContain("--force");
  expect(chooseMode({ force: true, isolation: "in-place" }, surroundings())).toBe("in-place");
});

test("/.dockerenv alone is not a container: the executor binary on such a host is refused", () => {
  const s = surroundings({ execPath: "/kaniko/executor" });
  expect(containerEvidence(s)).toBeUndefined();
  expect(() => chooseMode({ force: false }, s)).toThrow(/only be run inside of a container/);
  expect(chooseMode({ force: true }, s)).toBe("in-place");
});

test("container evidence: runtime env, cgroup, overlay root, bind-mounted root", () => {
  expect(containerEvidence(surroundings({ env: { container: "podman" } }))).toBe("container=podman");
  expect(containerEvidence(surroundings({ env: { KUBERNETES_SERVICE_HOST: "10.0.0.1" } }))).toBe("KUBERNETES_SERVICE_HOST");
  expect(containerEvidence(surroundings({ files: { "/proc/1/cgroup": "0::/kubepods/besteffort/pod1/abc\n" } }))).toContain("kubepods");
  expect(containerEvidence(surroundings({ files: { "/proc/self/mountinfo": OVERLAY_MOUNTINFO } }))).toBe("/ is overlay");
  expect(containerEvidence(surroundings({ files: { "/proc/self/mountinfo": BIND_MOUNTINFO } }))).toContain("bind mount");
});

test("this development machine is not taken for a container", () => {
  expect(containerEvidence(realSurroundings({}))).toBeUndefined();
});

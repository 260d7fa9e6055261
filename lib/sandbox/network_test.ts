import { expect, test } from "bun:test";
import { readlinkSync, readFileSync } from "node:fs";
import { silentLogger } from "../log/mod.ts";
import { closeNetwork, runNetwork } from "./network.ts";

/** A process that has exited (gone, or a zombie nobody reaped yet). */
function ended(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].startsWith("Z");
  } catch {
    return true;
  }
}

test("one private namespace per build, other than the host's, ended by closeNetwork", async () => {
  const a = await runNetwork("private", "/nonexistent/build-a", silentLogger);
  try {
    const again = await runNetwork("private", "/nonexistent/build-a", silentLogger);
    expect(typeof a).toBe("object");
    const nsPath = (a as { nsPath: string }).nsPath;
    expect(again).toEqual(a);
    expect(readlinkSync(nsPath)).not.toBe(readlinkSync("/proc/self/ns/net"));
    const holder = Number(nsPath.split("/")[2]);
    const slirps = Bun.spawnSync(["pgrep", "-f", `slirp4netns .* ${holder} tap0`]).stdout.toString().trim().split("\n").map(Number);
    expect(slirps.length).toBe(1);
    await closeNetwork("/nonexistent/build-a");
    for (let i = 0; i < 100 && !(ended(holder) && ended(slirps[0])); i++) await Bun.sleep(20);
    expect(ended(holder)).toBe(true);
    expect(ended(slirps[0])).toBe(true);
  } finally {
    await closeNetwork("/nonexistent/build-a");
  }
});

test("host and none pass through", async () => {
  expect(await runNetwork("host", "/x", silentLogger)).toBe("host");
  expect(await runNetwork("none", "/x", silentLogger)).toBe("none");
});

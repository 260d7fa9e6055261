import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { formatError } from "./format-error.ts";
import { BuildError } from "./errors.ts";

function systemError(code: string, props: Record<string, string>): Error {
  return Object.assign(new Error(`${code}: no space left on device, ${props.syscall ?? "write"}`), { code, ...props });
}

test("a full disk or quota is one line naming the path and what to do", () => {
  const line = formatError(systemError("ENOSPC", { syscall: "open", path: "/kaniko/tmp/layer-1.tar" }));
  expect(line).toBe("no space left on the device writing /kaniko/tmp/layer-1.tar: free space there (or point --kaniko-dir / TMPDIR at a larger file system) and build again");
  expect(formatError(systemError("EDQUOT", { syscall: "write" }))).toStartWith("the disk quota is exceeded: free space there");
  // As the cause of a typed error: its message first.
  const wrapped = new BuildError("Dockerfile:3: COPY big /big", undefined);
  (wrapped as Error).cause = systemError("ENOSPC", { syscall: "copyfile", dest: "/root/big" });
  expect(formatError(wrapped)).toBe("Dockerfile:3: COPY big /big: no space left on the device writing /root/big: free space there (or point --kaniko-dir / TMPDIR at a larger file system) and build again");
});

test("a real ENOSPC from node:fs (/dev/full) is recognised", () => {
  let err: unknown;
  try { writeFileSync("/dev/full", "x"); } catch (e) { err = e; }
  expect(formatError(err)).toStartWith("no space left on the device");
});

test("other errors keep their message", () => {
  expect(formatError(new Error("plain"))).toBe("plain");
  expect(formatError("text")).toBe("text");
});

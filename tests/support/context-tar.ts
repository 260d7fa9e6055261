// For the remote-context tests: a .tar.gz made by GNU tar from a map of files, the files found in an archive
// stream a fetcher returned, and the one-line ContextError a failing fetch must give.
import { expect } from "bun:test";
import { rmSync } from "node:fs";
import { makeContext } from "./kiln.ts";
import { ContextError } from "../../lib/context/errors.ts";

export async function contextTarGz(files: Record<string, string>): Promise<Uint8Array> {
  const dir = makeContext(files);
  try {
    const p = Bun.spawn(["tar", "-czf", "-", "-C", dir, "."], { stdout: "pipe", stderr: "pipe" });
    const bytes = new Uint8Array(await new Response(p.stdout).arrayBuffer());
    if ((await p.exited) !== 0) throw new Error(`tar failed: ${await new Response(p.stderr).text()}`);
    return bytes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Regular files in a gzip'd tar stream, as "name=content" for small text files. */
export async function listTarGz(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  const p = Bun.spawn(["tar", "-xzf", "-", "--to-command=printf '%s=' \"$TAR_FILENAME\"; cat; echo"], { stdin: bytes, stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error(`not a tar.gz: ${await new Response(p.stderr).text()}`);
  return out.split("\n").filter(Boolean).map((l) => l.replace(/^\.\//, "")).sort();
}

/** The message of the ContextError `p` rejects with, checked to be one line. */
export async function contextFailure(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(ContextError);
  const msg = (err as Error).message;
  expect(msg.split("\n")).toHaveLength(1);
  return msg;
}

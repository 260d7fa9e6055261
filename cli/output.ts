// How the CLI writes: RUN output and log lines go out synchronously, in the order they happened; -v trace logs
// each HTTP request; BENCHMARK_FILE receives the build's timings.
import { writeFileSync, writeSync } from "node:fs";
import type { Logger } from "../mod.ts";

/**
 * Writes all of `data` to `fd` now. process.stdout/stderr.write may queue a chunk on a pipe while a later one on
 * the other stream goes out first, which put a RUN's output after "Pushing image" under `docker run`. A full
 * non-blocking pipe (EAGAIN) is waited out; a closed one (EPIPE) drops the rest.
 */
export function writeAll(fd: number, data: Uint8Array | string): void {
  let buf = typeof data === "string" ? Buffer.from(data) : data;
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EPIPE") return;
      if (code !== "EAGAIN") throw e;
      Bun.sleepSync(1);
    }
  }
}

/**
 * -v trace: one line per HTTP request (registries, remote contexts): method, URL without its query (signed
 * blob URLs carry credentials there), status and the time to the response headers. Installed only at trace, so
 * other levels pay nothing.
 */
export function traceRequests(logger: Logger): void {
  if (!logger.enabled("trace")) return;
  const original = globalThis.fetch;
  const traced = async (input: string | URL | Request, init?: RequestInit) => {
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    const url = (input instanceof Request ? input.url : String(input)).replace(/[?#].*$/, "");
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    try {
      const res = await original(input, init);
      logger.trace(`${method} ${url} ${res.status}`, { ms: ms() });
      return res;
    } catch (e) {
      logger.trace(`${method} ${url} failed: ${(e as Error).message}`, { ms: ms() });
      throw e;
    }
  };
  globalThis.fetch = Object.assign(traced, original);
}

/** kaniko's BENCHMARK_FILE: the timings as JSON ("false" or empty: none; gs:// is not supported). */
export function writeBenchmarkFile(path: string | undefined, timings: unknown, logger: Logger): void {
  if (!path || path === "false") return;
  if (/^[a-z0-9]+:\/\//i.test(path)) {
    logger.warn(`BENCHMARK_FILE=${path}: kiln writes timings to a local file only; not written`);
    return;
  }
  try {
    writeFileSync(path, JSON.stringify(timings, null, 2) + "\n");
  } catch (e) {
    logger.warn(`BENCHMARK_FILE=${path}: cannot write the timings: ${(e as Error).message}`);
  }
}

// With main.ts, the only code that reads argv and the environment, prints, and sets the exit code.
// Dispatch: executor (default) | warmer (also when started as "warmer") | version. main.ts starts the RUN
// helper itself before this file (and the whole of kiln with it) is loaded.
import { basename, resolve } from "node:path";
import { existsSync } from "node:fs";
import {
  build, BuildInterruptedError, createLogger, RunFailedError, VERSION, formatError, warm,
} from "../mod.ts";
import { parseExecutorArgs, executorCommand, FlagError, parseWarmerArgs, warmerCommand, wantsVersion, type ParsedLog } from "./flags.ts";
import { traceRequests, writeAll, writeBenchmarkFile } from "./output.ts";
import { chooseMode, ModeError, realSurroundings } from "./mode.ts";

/** How to start this same program again (for the sandbox helper): compiled binary, or bun + this script. */
function selfCommand(): string[] {
  const script = process.argv[1];
  const compiled = !script || script.startsWith("/$bunfs/") || !existsSync(script);
  return compiled ? [process.execPath] : [process.execPath, resolve(script)];
}

/**
 * Log lines go to stderr synchronously, so they interleave with RUN output as things happened. Progress: live
 * lines when stderr is a terminal; KILN_PROGRESS_INTERVAL_MS sets how often a transfer is logged without one.
 */
function logger(log: ParsedLog) {
  const interval = Number(process.env.KILN_PROGRESS_INTERVAL_MS);
  const stream = { isTTY: !!process.stderr.isTTY, columns: process.stderr.columns, write: (s: string) => writeAll(2, s) };
  const l = createLogger({
    ...log, write: (line) => writeAll(2, line + "\n"),
    progress: { stream, ...(interval > 0 ? { intervalMs: interval } : {}) },
  });
  traceRequests(l);
  return l;
}

/** The parsed flags, or exit code 2 after one line naming the bad flag. */
function parseOrExplain<T>(command: string, parse: () => T): T | number {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    process.stderr.write(`${command}: ${e.message}\nRun '${command} --help' for the list of flags.\n`);
    return 2;
  }
}

async function executor(args: string[]): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    process.stdout.write(executorCommand().helpInformation());
    return 0;
  }
  if (wantsVersion(args)) {
    process.stdout.write(`kiln version : ${VERSION}\n`);
    return 0;
  }
  const parsed = parseOrExplain("kiln", () => parseExecutorArgs(args, process.env, process.cwd(), !!process.stderr.isTTY));
  if (typeof parsed === "number") return parsed;
  const log = logger(parsed.log);
  for (const w of parsed.warnings) log.warn(w);
  let mode: "isolated" | "in-place";
  try {
    mode = chooseMode({ force: parsed.force, ...(parsed.isolation ? { isolation: parsed.isolation } : {}) }, realSurroundings(process.env));
  } catch (e) {
    if (e instanceof ModeError) {
      log.error(e.message);
      return 1;
    }
    throw e;
  }
  if (parsed.options.cleanup && mode === "isolated") {
    log.warn("--cleanup applies to the in-place mode (the executor image), where the build unpacks over /; the isolated mode always removes its build roots, so it has no effect here");
  }
  // SIGINT/SIGTERM stop the build: its RUNs are killed and its work directory removed before kiln exits 130/143.
  // A second signal exits at once.
  const interrupt = new AbortController();
  let interruptedExit: number | undefined;
  const onSignal = (name: "SIGINT" | "SIGTERM", code: number) => () => {
    if (interruptedExit !== undefined) process.exit(interruptedExit);
    interruptedExit = code;
    interrupt.abort(name);
  };
  const handlers = [["SIGINT", onSignal("SIGINT", 130)], ["SIGTERM", onSignal("SIGTERM", 143)]] as const;
  for (const [name, h] of handlers) process.on(name, h);
  try {
    const result = await build({
      ...parsed.options,
      mode,
      selfCommand: selfCommand(),
      logger: log,
      signal: interrupt.signal,
      stdin: { isTerminal: !!process.stdin.isTTY, stream: () => Bun.stdin.stream() },
      // Live progress lines step aside first, or a RUN's output would be drawn over.
      stdout: (c) => { log.clearProgress(); writeAll(1, c); },
      stderr: (c) => { log.clearProgress(); writeAll(2, c); },
    });
    writeBenchmarkFile(process.env.BENCHMARK_FILE, result.timings, log);
    log.info(`Built image ${result.digest}`);
    return 0;
  } catch (e) {
    if (interruptedExit !== undefined) {
      // The build may have failed on its own as its RUN was killed; what counts is the interruption.
      log.error(formatError(e instanceof BuildInterruptedError ? e : new BuildInterruptedError(String(interrupt.signal.reason))));
      // Uploads or workers still in flight would keep the process alive: exit now, nothing of the build is left.
      process.exit(interruptedExit);
    }
    log.error(formatError(e));
    if (e instanceof RunFailedError) return e.exitCode;
    return 1;
  } finally {
    for (const [name, h] of handlers) process.off(name, h);
  }
}

/** kiln warmer / /kaniko/warmer: exit 1 when any image could not be cached (each named on its own line). */
async function warmer(args: string[]): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    process.stdout.write(warmerCommand().helpInformation());
    return 0;
  }
  const parsed = parseOrExplain("kiln warmer", () => parseWarmerArgs(args, process.env, process.cwd(), !!process.stderr.isTTY));
  if (typeof parsed === "number") return parsed;
  const log = logger(parsed.log);
  try {
    const result = await warm({ ...parsed.options, logger: log });
    for (const f of result.failed) log.error(`cannot cache ${f.ref}: ${formatError(f.error)}`);
    return result.failed.length ? 1 : 0;
  } catch (e) {
    log.error(formatError(e));
    return 1;
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  // Compiled, the name it was started by is argv0 (execPath resolves the /kaniko/warmer symlink to the executor).
  const invokedAs = basename(process.argv[1] && !process.argv[1].startsWith("/$bunfs/") ? process.argv[1] : process.argv0 || process.execPath);
  if (invokedAs === "warmer") return warmer(argv);
  if (argv[0] === "warmer") return warmer(argv.slice(1));
  return executor(argv[0] === "executor" ? argv.slice(1) : argv);
}

process.exitCode = await main();

// Logger shared by every folder. Levels follow logrus (kaniko's --verbosity values).
import { NO_PROGRESS, ProgressBoard, type Progress, type ProgressOptions, type ProgressStart } from "./progress.ts";

export { formatBytes, type Progress, type ProgressOptions, type ProgressStart, type ProgressStream } from "./progress.ts";
export type Level = "panic" | "fatal" | "error" | "warn" | "info" | "debug" | "trace";
export type LogFormat = "text" | "color" | "json";

const ORDER: Record<Level, number> = { panic: 0, fatal: 1, error: 2, warn: 3, info: 4, debug: 5, trace: 6 };
const COLORS: Record<Level, string> = {
  panic: "\x1b[31m", fatal: "\x1b[31m", error: "\x1b[31m", warn: "\x1b[33m", info: "\x1b[36m", debug: "\x1b[37m", trace: "\x1b[37m",
};

export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  trace(msg: string, fields?: Record<string, unknown>): void;
  enabled(level: Level): boolean;
  /**
   * Starts reporting a long transfer (phase: "unpack", "snapshot", "push"); info level, so nothing at -v warn.
   * Counting is all it costs the caller: lines are written on a timer and when the transfer is done.
   */
  progress(phase: string, opts?: ProgressStart): Progress;
}

/** What createLogger gives: a Logger that can also step its live progress lines out of the way of other output. */
export interface TerminalLogger extends Logger {
  /** Erases live progress lines before something else (a RUN's output) is written to the same terminal. */
  clearProgress(): void;
}

export interface LoggerOptions {
  level?: Level;
  format?: LogFormat;
  timestamp?: boolean;
  /** Where lines go; defaults to stderr so stdout stays free for RUN output. */
  write?: (line: string) => void;
  now?: () => Date;
  /** Where live progress lines go (a terminal) and how often progress lines are written without one. */
  progress?: ProgressOptions;
}

export function parseLevel(s: string): Level {
  const l = s.toLowerCase();
  if (l in ORDER) return l as Level;
  if (l === "warning") return "warn";
  throw new Error(`unknown log level "${s}": use one of ${Object.keys(ORDER).join(", ")}`);
}

export function createLogger(opts: LoggerOptions = {}): TerminalLogger {
  const max = ORDER[opts.level ?? "info"];
  // Escape codes only when asked for: a library caller's log may well be a file.
  const format = opts.format ?? "text";
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const now = opts.now ?? (() => new Date());
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] > max) return;
    board.clear();
    if (format === "json") {
      write(JSON.stringify({ level, msg, time: now().toISOString(), ...fields }));
      return;
    }
    const extra = fields && Object.keys(fields).length
      ? " " + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ")
      : "";
    const ts = opts.timestamp ? `${now().toISOString()} ` : "";
    const tag = level.toUpperCase().padEnd(5);
    write(format === "color" ? `${ts}${COLORS[level]}${tag}\x1b[0m ${msg}${extra}` : `${ts}${tag} ${msg}${extra}`);
  };
  // The message already says what the JSON fields say; text lines add only what the caller added.
  const board = new ProgressBoard((e) => emit("info", e.msg, format === "json" ? e.fields : e.extra), format === "json", opts.progress);
  return {
    error: (m, f) => emit("error", m, f),
    warn: (m, f) => emit("warn", m, f),
    info: (m, f) => emit("info", m, f),
    debug: (m, f) => emit("debug", m, f),
    trace: (m, f) => emit("trace", m, f),
    enabled: (l) => ORDER[l] <= max,
    progress: (phase, o) => (ORDER.info <= max ? board.start(phase, o) : NO_PROGRESS),
    clearProgress: () => board.clear(),
  };
}

/** A logger that drops everything; for library callers and tests. */
export const silentLogger: Logger = createLogger({ level: "panic", write: () => {} });

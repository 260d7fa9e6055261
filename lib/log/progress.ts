// Progress of long byte transfers (unpack, snapshot, push). Callers only add to counters; what reaches the log is
// decided on a timer, so a transfer costs the same whether anyone watches it or not.

/** One transfer. `update` adds bytes; `done` prints the final line; `cancel` ends it silently (a failed attempt). */
export interface Progress {
  /**
   * Whether the bytes in between are shown (a live terminal line). Without a terminal only the final line and a
   * line every few seconds are, so a caller whose counting has a cost (a push streamed through JS instead of handed
   * to fetch as a file) may count once at the end instead.
   */
  readonly live: boolean;
  update(bytes: number): void;
  /** Back to zero bytes: the transfer starts over (a retried upload). */
  reset(): void;
  done(fields?: Record<string, unknown>): void;
  cancel(): void;
}

export interface ProgressStart {
  /** What is being transferred, e.g. a layer digest. */
  subject?: string;
  /** Bytes expected, when known. */
  total?: number;
}

/** Where a terminal's live lines go; `isTTY` selects them (the CLI passes stderr). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** Without a terminal: at most one line per transfer this often. */
  intervalMs?: number;
  now?: () => number;
}

export const DEFAULT_PROGRESS_INTERVAL_MS = 5000;
const TTY_REFRESH_MS = 200;

export const NO_PROGRESS: Progress = { live: false, update() {}, reset() {}, done() {}, cancel() {} };

/** What a progress line says, to the log: the message and, for JSON, its fields. */
export interface ProgressEvent {
  msg: string;
  fields: Record<string, unknown>;
  /** What the caller added at the end (a compressed size, a digest): text lines show these too. */
  extra?: Record<string, unknown>;
}

interface Transfer {
  phase: string;
  subject: string | undefined;
  total: number | undefined;
  bytes: number;
  started: number;
  lastLine: number;
}

/** "20.0 MB": decimal units, as Docker prints sizes. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${v.toFixed(1)} ${units[i]}`;
}

const rate = (t: Transfer, now: number) => {
  const s = (now - t.started) / 1000;
  return s > 0 ? t.bytes / s : 0;
};

function describe(t: Transfer, now: number, final: boolean): ProgressEvent {
  const name = t.subject ? `${t.phase} ${t.subject}` : t.phase;
  const elapsedMs = Math.round(now - t.started);
  const bytesPerSecond = Math.round(rate(t, now));
  const fields: Record<string, unknown> = {
    progress: t.phase, ...(t.subject ? { subject: t.subject } : {}), bytes: t.bytes,
    ...(t.total !== undefined ? { total: t.total } : {}), elapsedMs, bytesPerSecond, done: final,
  };
  const speed = `${formatBytes(bytesPerSecond)}/s`;
  if (final) return { msg: `${name}: ${formatBytes(t.bytes)} in ${(elapsedMs / 1000).toFixed(1)}s, ${speed}`, fields };
  const of = t.total ? ` / ${formatBytes(t.total)} (${Math.min(100, Math.floor((t.bytes / t.total) * 100))}%)` : "";
  return { msg: `${name}: ${formatBytes(t.bytes)}${of}, ${speed}`, fields };
}

/**
 * The transfers of one logger and their rendering. `line` writes a log line (an info line, or a JSON event):
 * every few seconds per transfer without a terminal, and once at the end of each in all modes. With a terminal
 * (and not `structured`), the active transfers are also live lines under the log, redrawn in place.
 */
export class ProgressBoard {
  readonly #line: (e: ProgressEvent) => void;
  readonly #tty: ProgressStream | undefined;
  readonly #interval: number;
  readonly #now: () => number;
  readonly #active = new Set<Transfer>();
  #timer: ReturnType<typeof setInterval> | undefined;
  // Live lines currently on the terminal, to be erased before anything else is written there.
  #drawn = 0;

  constructor(line: (e: ProgressEvent) => void, structured: boolean, opts: ProgressOptions = {}) {
    this.#line = line;
    this.#tty = !structured && opts.stream?.isTTY ? opts.stream : undefined;
    this.#interval = Math.max(1, opts.intervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);
    this.#now = opts.now ?? (() => performance.now());
  }

  start(phase: string, opts: ProgressStart = {}): Progress {
    const now = this.#now();
    const t: Transfer = { phase, subject: opts.subject, total: opts.total, bytes: 0, started: now, lastLine: now };
    this.#active.add(t);
    this.#schedule();
    const end = (final: boolean, fields?: Record<string, unknown>) => {
      if (!this.#active.delete(t)) return;
      if (this.#active.size === 0) this.#stop();
      if (!final) return;
      const e = describe(t, this.#now(), true);
      this.#line(fields ? { msg: e.msg, fields: { ...e.fields, ...fields }, extra: fields } : e);
    };
    return {
      live: this.#tty !== undefined,
      update: (n) => { t.bytes += n; },
      reset: () => { t.bytes = 0; },
      done: (fields) => end(true, fields),
      cancel: () => end(false),
    };
  }

  /** Erases the live lines so other output lands on a clean terminal; the next tick draws them again. */
  clear(): void {
    if (this.#drawn === 0 || !this.#tty) return;
    this.#tty.write(`\x1b[${this.#drawn}A\r\x1b[J`);
    this.#drawn = 0;
  }

  #schedule(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#tick(), this.#tty ? TTY_REFRESH_MS : Math.min(this.#interval, 1000));
    // Progress never keeps a process alive.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.clear();
  }

  #tick(): void {
    const now = this.#now();
    if (this.#tty) {
      // A terminal that does not say its width (0, as under script(1)) gets 80.
      const width = Math.max(20, (this.#tty.columns || 80) - 1);
      // One line per transfer, cut to the terminal's width: a wrapped line would break the redraw.
      const lines = [...this.#active].map((t) => describe(t, now, false).msg.slice(0, width));
      const erase = this.#drawn ? `\x1b[${this.#drawn}A\r\x1b[J` : "";
      this.#tty.write(erase + lines.map((l) => l + "\n").join(""));
      this.#drawn = lines.length;
      return;
    }
    for (const t of this.#active) {
      // Nothing counted yet says nothing (a push without a terminal is counted once, when it is sent).
      if (t.bytes === 0 || now - t.lastLine < this.#interval) continue;
      t.lastLine = now;
      this.#line(describe(t, now, false));
    }
  }
}

// The registry client's one retry loop: how many attempts, how long to wait (a first delay doubled each time, or
// longer when the registry says when to come back), and the warning before each wait.

/** A rate-limited registry's Retry-After is honoured up to this, so a bogus value cannot stall a build. */
const MAX_RETRY_AFTER_MS = 60_000;

export interface Backoff {
  /** Attempts in all (1: no retry). */
  attempts: number;
  /** Wait before the second attempt, in ms; doubled for each next one. */
  firstDelayMs: number;
  warn: (message: string) => void;
}

/** What one attempt gives: a result, or another attempt (and the error to throw when none is left). */
export type Attempt<T> =
  | { done: T }
  | { again: unknown; because: string; retryAfterMs?: number | undefined };

/** Runs attempts until one is done or the budget is spent; `last` tells an attempt that no other follows. */
export async function withBackoff<T>(b: Backoff, attempt: (last: boolean) => Promise<Attempt<T>>): Promise<T> {
  let delay = b.firstDelayMs;
  for (let i = 1; ; i++) {
    const r = await attempt(i >= b.attempts);
    if ("done" in r) return r.done;
    if (i >= b.attempts) throw r.again;
    if (r.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(r.retryAfterMs, MAX_RETRY_AFTER_MS));
    b.warn(`${r.because}; retrying in ${delay} ms (attempt ${i + 1}/${b.attempts})`);
    await Bun.sleep(delay);
    delay *= 2;
  }
}

/** Retry-After is seconds or an HTTP date. */
export function retryAfterMs(v: string | null): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

// Go's time.ParseDuration, for --cache-ttl (kaniko reads the flag with it). lib/dockerfile has one for HEALTHCHECK, but
// lib/cache may not use lib/dockerfile (ARCHITECTURE.md), so the cache reads its own flag's syntax here.

export class DurationError extends Error {
  override name = "DurationError";
  constructor(readonly input: string, reason: string) {
    super(`invalid duration ${JSON.stringify(input)}: ${reason} (Go's syntax: a number and a unit, ns us ms s m h, e.g. 336h, 1h30m, 90s, 2h45m10.5s)`);
  }
}

/** Nanoseconds per unit; "µs" and "μs" are Go's spellings of microseconds (micro sign and Greek mu). */
const NANOS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, "μs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const TERM = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)?/;

/** Milliseconds (fractions kept) of a Go duration such as "336h" or "-1.5h"; "0" alone needs no unit, as in Go. */
export function parseGoDuration(text: string): number {
  const sign = text.startsWith("-") ? -1 : 1;
  let rest = /^[+-]/.test(text) ? text.slice(1) : text;
  if (rest === "0") return 0;
  if (rest === "") throw new DurationError(text, "empty");
  let nanos = 0;
  while (rest !== "") {
    const m = TERM.exec(rest)!;
    const [whole, int, frac] = m;
    if (int === "" && (frac ?? "") === "") throw new DurationError(text, `expected a number at "${rest}"`);
    if (!m[3]) throw new DurationError(text, `missing unit after "${whole}"`);
    nanos += Number(`${int || "0"}.${frac || "0"}`) * NANOS[m[3]];
    rest = rest.slice(whole.length);
  }
  return (sign * nanos) / 1e6;
}

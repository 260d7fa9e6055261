// Go's time.ParseDuration, as Docker reads HEALTHCHECK --interval and friends, and kaniko --cache-ttl.
import { ParseFailure } from "./errors.ts";

const UNITS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, "μs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Nanoseconds of a Go duration such as "336h" or "-1.5h"; "0" alone needs no unit, as in Go. Throws ParseFailure. */
export function parseDuration(text: string): number {
  let s = text;
  let sign = 1;
  if (s.startsWith("-") || s.startsWith("+")) {
    if (s[0] === "-") sign = -1;
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") throw new ParseFailure(`time: invalid duration ${JSON.stringify(text)}`);
  let total = 0;
  const re = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (s !== "") {
    const m = re.exec(s);
    if (!m || (m[1] === "" && (m[2] ?? "") === "")) {
      if (/^[\d.]+$/.test(s)) throw new ParseFailure(`time: missing unit in duration ${JSON.stringify(text)}`);
      throw new ParseFailure(`time: invalid duration ${JSON.stringify(text)}`);
    }
    const value = Number(`${m[1] || "0"}.${m[2] || "0"}`);
    total += value * UNITS[m[3]];
    s = s.slice(m[0].length);
  }
  return sign * Math.round(total);
}

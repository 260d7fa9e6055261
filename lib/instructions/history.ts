// `created_by` of history entries exactly as BuildKit's Dockerfile frontend writes them. BuildKit builds these
// strings with Go's fmt verbs (%q, %v) on Go values, so a few Go formatting rules are reproduced here: quoted
// string lists `["a" "b"]`, plain lists `[a b]`, sorted maps `map[k:{}]`, durations `1m30s`, runes `'\x04'`.
// Checked against Docker 20.10's BuildKit by tests/conformance.
import type {
  AddInstruction, ArgInstruction, CopyInstruction, EnvInstruction, HealthcheckInstruction, LabelInstruction,
  ShellInstruction, VolumeInstruction,
} from "../dockerfile/mod.ts";

/** Go's strconv.Quote for the characters Dockerfiles contain. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else out += goEscape(c) ?? (c >= 0xa0 ? ch : c < 0x10000 ? `\\u${c.toString(16).padStart(4, "0")}` : `\\U${c.toString(16).padStart(8, "0")}`);
  }
  return out + '"';
}

function goEscape(c: number): string | undefined {
  const named: Record<number, string> = { 7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v" };
  if (named[c]) return named[c];
  if (c < 0x20 || c === 0x7f) return `\\x${c.toString(16).padStart(2, "0")}`;
  return undefined;
}

/** Go's %q of a rune (an int formatted with %q, as HealthConfig.Retries is). */
export function goQuoteRune(n: number): string {
  if (n === 0x27) return "'\\''";
  if (n === 0x5c) return "'\\\\'";
  if (n >= 0x20 && n < 0x7f) return `'${String.fromCodePoint(n)}'`;
  const esc = goEscape(n);
  if (esc) return `'${esc}'`;
  return n < 0x10000 ? `'\\u${n.toString(16).padStart(4, "0")}'` : `'${String.fromCodePoint(n)}'`;
}

/** fmt %q of a []string: `["a" "b"]`. */
export function goQuoteList(list: string[]): string {
  return `[${list.map(goQuote).join(" ")}]`;
}

/** fmt %v of a []string: `[a b]`. */
export function goList(list: string[]): string {
  return `[${list.join(" ")}]`;
}

/** Go's time.Duration.String() for a count of nanoseconds. */
export function goDuration(ns: number): string {
  if (ns === 0) return "0s";
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    const [unit, div] = u < 1e3 ? ["ns", 1] : u < 1e6 ? ["µs", 1e3] : ["ms", 1e6];
    out = `${trimFraction(u / (div as number))}${unit}`;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    const s = `${trimFraction(u / 1e9)}s`;
    out = h ? `${h}h${m}m${s}` : m ? `${m}m${s}` : s;
  }
  return neg ? `-${out}` : out;
}

function trimFraction(x: number): string {
  return x.toFixed(9).replace(/\.?0+$/, "");
}

export function envCreatedBy(instr: EnvInstruction): string {
  return `ENV ${instr.pairs.map((p) => `${p.key}=${p.value}`).join(" ")}`;
}

export function labelCreatedBy(instr: LabelInstruction): string {
  return `LABEL ${instr.pairs.map((p) => `${p.key}=${p.value}`).join(" ")}`;
}

export function argCreatedBy(instr: ArgInstruction): string {
  return `ARG ${instr.args.map((a) => (a.default !== undefined ? `${a.name}=${a.default}` : a.name)).join(" ")}`;
}

/** CMD and ENTRYPOINT record the final argv (shell form already wrapped in SHELL), as Go's %q of the list. */
export function commandCreatedBy(kind: "CMD" | "ENTRYPOINT", argv: string[]): string {
  return `${kind} ${goQuoteList(argv)}`;
}

export function shellCreatedBy(instr: ShellInstruction): string {
  return `SHELL ${goList(instr.shell)}`;
}

export function volumeCreatedBy(instr: VolumeInstruction): string {
  return `VOLUME ${goList(instr.volumes)}`;
}

/** EXPOSE records the ports this instruction added, as a Go map (keys sorted). */
export function exposeCreatedBy(ports: string[]): string {
  return `EXPOSE map[${[...new Set(ports)].sort().map((p) => `${p}:{}`).join(" ")}]`;
}

/** HEALTHCHECK records Go's %q of the HealthConfig pointer (Test, Interval, Timeout, StartPeriod, [StartInterval,] Retries). */
export function healthcheckCreatedBy(instr: HealthcheckInstruction, test: string[]): string {
  const o = instr.type === "CMD" ? instr.options : {};
  const fields = [goQuoteList(test), goQuote(goDuration(o.interval ?? 0)), goQuote(goDuration(o.timeout ?? 0)), goQuote(goDuration(o.startPeriod ?? 0))];
  // Docker 20.10's HealthConfig has no StartInterval; newer BuildKit prints it. Only given values make it appear.
  if (o.startInterval !== undefined) fields.push(goQuote(goDuration(o.startInterval)));
  fields.push(goQuoteRune(o.retries ?? 0));
  return `HEALTHCHECK &{${fields.join(" ")}}`;
}

export function workdirCreatedBy(dir: string): string {
  return `WORKDIR ${dir}`;
}

/** COPY/ADD record sources and destination as written (after expansion); flags are left out. */
export function copyCreatedBy(instr: CopyInstruction | AddInstruction): string {
  const sources = [...instr.sources, ...instr.heredocSources.map((h) => `<<${h.name}`)];
  return `${instr.kind} ${[...sources, instr.dest].join(" ")} # buildkit`;
}

/** RUN: `|N K=V ...` for every ARG declared so far in the stage (repeats kept), then the argv. */
export function runCreatedBy(argv: string[], argPairs: string[]): string {
  const prefix = argPairs.length ? `|${argPairs.length} ${argPairs.join(" ")} ` : "";
  return `RUN ${prefix}${argv.join(" ")} # buildkit`;
}

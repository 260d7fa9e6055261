// How a build's cost grows with the Dockerfile: N LABEL instructions FROM scratch, and one 10 MB line (parsed
// and expanded alone, and built). Each case runs the kiln CLI from source in its own process under
// /usr/bin/time: wall time and peak RSS. Goal: linear in N, a 10 MB line in well under a second.
// Usage: bun scripts/bench/dockerfile-scale.ts [--repo DIR] [--counts 2000,4000,8000,10000,100000] [--timeout SECONDS]
//   --repo runs another checkout's CLI (e.g. an older commit unpacked with git archive) for before/after numbers.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const repo = resolve(opt("repo", join(import.meta.dir, "../..")));
const counts = opt("counts", "2000,4000,8000,10000,100000").split(",").map(Number);
const timeoutS = Number(opt("timeout", "180"));
const MB10 = 10 * 1024 * 1024;

interface Measured { seconds: number; rssMiB: number; ok: boolean; note: string }

async function measure(argv: string[]): Promise<Measured> {
  const p = Bun.spawn(["/usr/bin/time", "-f", "TIME %e %M", "timeout", String(timeoutS), ...argv], { stdout: "pipe", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited, new Response(p.stdout).text()]);
  const m = /TIME ([\d.]+) (\d+)/.exec(err);
  const note = code === 124 ? `killed after ${timeoutS} s` : code !== 0 ? `exit ${code}: ${err.split("\n").find((l) => l.includes("ERROR")) ?? ""}` : "";
  return { seconds: m ? Number(m[1]) : NaN, rssMiB: m ? Number(m[2]) / 1024 : NaN, ok: code === 0, note };
}

async function build(dockerfile: string): Promise<Measured> {
  const ctx = mkdtempSync(join(tmpdir(), "bench-scale-"));
  try {
    writeFileSync(join(ctx, "Dockerfile"), dockerfile);
    return await measure([process.execPath, join(repo, "cli/main.ts"), "--context", ctx, "--no-push", "--verbosity", "error"]);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

const show = (what: string, m: Measured) =>
  console.log(`${what.padEnd(34)} ${m.ok || m.note.startsWith("killed") ? "" : "FAILED "}${m.seconds.toFixed(2).padStart(7)} s  ${m.rssMiB.toFixed(0).padStart(5)} MiB peak RSS ${m.note}`);

console.log(`kiln at ${repo}; load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}; ${new Date().toISOString()}`);
for (const n of counts) {
  let text = "FROM scratch\n";
  for (let i = 0; i < n; i++) text += `LABEL k${i}=v${i}\n`;
  show(`build: ${n} LABELs`, await build(text));
}

const line = `LABEL big="${"a".repeat(MB10)}"`;
// Parse and expand only, in a process of its own: what the Dockerfile front end costs without a build.
const script = join(mkdtempSync(join(tmpdir(), "bench-scale-")), "parse.ts");
writeFileSync(script, `
  import { expandInstruction, parseDockerfile } from ${JSON.stringify(join(repo, "lib/dockerfile/mod.ts"))};
  const text = "FROM scratch\\n" + ${JSON.stringify(line.slice(0, 11))} + "a".repeat(${MB10}) + "\\"\\n";
  const df = parseDockerfile(text, { file: "Dockerfile" });
  expandInstruction(df.stages[0].instructions[0], () => undefined, "\\\\");
`);
show("parse+expand: a 10 MB LABEL line", await measure([process.execPath, script]));
rmSync(join(script, ".."), { recursive: true, force: true });
show("build: a 10 MB LABEL line", await build(`FROM scratch\n${line}\n`));

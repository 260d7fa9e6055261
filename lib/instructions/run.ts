// RUN: the command runs in the isolated sandbox as the image's USER, with ENV plus the ARGs in scope.
import type { RunInstruction } from "../dockerfile/mod.ts";
import { resolveUser } from "../rootfs/mod.ts";
import { netNamespaceUnavailable, runInPlace, runIsolated, runNetwork } from "../sandbox/mod.ts";
import type { StepContext } from "./context.ts";
import { prepareMounts } from "./mounts.ts";
import { systemFileMounts } from "./system-files.ts";
import { join } from "node:path";
import { commandArgv, InstructionError } from "./metadata.ts";
import type { StageState, StepResult } from "./state.ts";
import { buildEnv, envMap, PROXY_ARGS, runArgPairs } from "./state.ts";
import { runCreatedBy } from "./history.ts";

export class RunFailedError extends Error {
  constructor(public readonly exitCode: number, public readonly line: number, command: string) {
    super(`RUN ${command} (line ${line}) returned a non-zero code: ${exitCode}`);
    this.name = "RunFailedError";
  }
}

/** The script for a shell-form RUN with heredocs: a lone `<<EOF` runs the body; otherwise the shell reads the heredocs itself. */
export function shellScript(instr: RunInstruction): string | undefined {
  if (instr.cmd.form !== "shell") return undefined;
  if (instr.heredocs.length === 0) return instr.cmd.text;
  const only = /^\s*\d*<<-?\s*["']?([^"'\s]+)["']?\s*$/.exec(instr.cmd.text);
  if (only && instr.heredocs.length === 1) return instr.heredocs[0].content;
  return [instr.cmd.text, ...instr.heredocs.map((h) => `${h.content}${h.name}`)].join("\n") + "\n";
}

export async function executeRun(instr: RunInstruction, state: StageState, ctx: StepContext): Promise<StepResult> {
  const rc = state.config.config;
  const script = shellScript(instr);
  const argv = script !== undefined ? commandArgv({ form: "shell", text: script }, rc.Shell) : commandArgv(instr.cmd, rc.Shell);
  const env = envMap(state.config);
  // The build env (ENV and valued ARGs) reaches the command; proxy build args reach the command without a
  // declaration and stay out of history, as Docker does.
  const proxyEnv = Object.entries(ctx.buildArgs)
    .filter(([k, v]) => PROXY_ARGS.has(k) && v !== undefined && !env.has(k) && !state.args.has(k) && !state.argEnv?.has(k))
    .map(([k, v]) => `${k}=${v}`);
  const user = await resolveUser(ctx.rootDir, rc.User ?? ""); // no USER means uid 0, even without /etc/passwd
  const runEnv = [...buildEnv(state), ...proxyEnv];
  if (!env.has("HOME")) runEnv.push(`HOME=${user.home}`);
  if (!env.has("PATH")) runEnv.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  // The step loop logged the instruction at info; the argv it became is detail (kaniko's "Cmd:"/"Args:").
  ctx.logger.debug(`Cmd: ${JSON.stringify(argv)}`);
  const what = `RUN (line ${instr.line})`;
  // RUN --network wins over the build's default (--network); "default" is the build's default.
  const mode = instr.network === "none" || instr.network === "host" ? instr.network : ctx.network;
  if (ctx.inPlace && mode === "none") {
    // Never run a --network=none command with the container's network.
    const why = netNamespaceUnavailable();
    if (why) throw new InstructionError(`${what}: --network=none needs a network namespace of its own, which this container cannot make (${why}); give it CAP_SYS_ADMIN or leave out --network=none`);
  }
  // Mounts and env= secrets reach the command only: not the history entry, not the log line above.
  const mounts = await prepareMounts(instr.mounts, rc.WorkingDir, ctx, what);
  let code: number;
  try {
    // The RUN's own mounts come after the system files, so a --mount on /etc/hosts wins, as in BuildKit.
    // In place, only "none" changes anything: the command gets a new network namespace with loopback up.
    const network = ctx.inPlace ? (mode === "none" ? "none" : undefined) : await runNetwork(mode, ctx.runtimeDir, ctx.logger);
    const system = ctx.inPlace ? undefined : systemFileMounts(ctx.rootDir, join(ctx.runtimeDir, "etc"), typeof network === "object");
    try {
      code = await (ctx.inPlace ? runInPlace : runIsolated)(
        {
          root: ctx.rootDir, argv, env: [...runEnv, ...mounts.env], cwd: rc.WorkingDir || "/", uid: user.uid, gid: user.gid, groups: user.groups,
          mounts: [...system?.mounts ?? [], ...mounts.mounts], ...(network ? { network } : {}),
        },
        { selfCommand: ctx.selfCommand, runtimeDir: ctx.runtimeDir, logger: ctx.logger, stdout: ctx.stdout, stderr: ctx.stderr },
      );
    } finally {
      system?.release();
    }
  } finally {
    mounts.release();
  }
  if (code !== 0) throw new RunFailedError(code, instr.line, script ?? JSON.stringify(argv));
  // History is BuildKit's: every ARG declared so far in the stage, then the argv (mounts and secrets never appear).
  return { state, changes: { kind: "scan" }, createdBy: runCreatedBy(argv, runArgPairs(state)) };
}

// Instructions that only change the image config. Each is a pure function of the (expanded) instruction and the state.
import type {
  ArgInstruction, CmdInstruction, EntrypointInstruction, EnvInstruction, ExposeInstruction, HealthcheckInstruction, LabelInstruction,
  MaintainerInstruction, OnbuildInstruction, ShellInstruction, StopsignalInstruction, UserInstruction, VolumeInstruction, Command,
} from "../dockerfile/mod.ts";
import type { StageState } from "./state.ts";
import { setEnv, withRuntime } from "./state.ts";

export class InstructionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InstructionError";
  }
}

export type MetadataInstruction =
  | EnvInstruction | LabelInstruction | UserInstruction | CmdInstruction | EntrypointInstruction | ShellInstruction | ExposeInstruction
  | VolumeInstruction | StopsignalInstruction | HealthcheckInstruction | OnbuildInstruction | MaintainerInstruction | ArgInstruction;

/** Shell form -> [...SHELL, text]; exec form as written. */
export function commandArgv(cmd: Command, shell: string[] | undefined): string[] {
  return cmd.form === "exec" ? cmd.args : [...(shell?.length ? shell : ["/bin/sh", "-c"]), cmd.text];
}

/** ARG: a --build-arg value wins, then the declared default, then the meta ARG of the same name. */
export function applyArg(
  instr: ArgInstruction, state: StageState, buildArgs: Record<string, string | undefined>, metaArgs: ReadonlyMap<string, string | undefined>,
): StageState {
  const args = new Map(state.args);
  for (const a of instr.args) {
    let value: string | undefined;
    if (Object.hasOwn(buildArgs, a.name) && buildArgs[a.name] !== undefined) value = buildArgs[a.name];
    else if (a.default !== undefined) value = a.default;
    else value = metaArgs.get(a.name);
    args.set(a.name, value);
  }
  return { ...state, args };
}

const SIGNAL = /^(?:SIG)?[A-Z0-9+-]+$|^\d+$/;

export function applyMetadata(instr: MetadataInstruction, state: StageState): StageState {
  const rc = state.config.config;
  switch (instr.kind) {
    case "ENV":
      return { ...state, config: setEnv(state.config, instr.pairs) };
    case "LABEL": {
      const labels = { ...(rc.Labels ?? {}) };
      for (const p of instr.pairs) labels[p.key] = p.value;
      return withRuntime(state, { Labels: labels });
    }
    case "USER":
      return withRuntime(state, { User: instr.user });
    case "CMD":
      return withRuntime(state, { Cmd: commandArgv(instr.cmd, rc.Shell) });
    case "ENTRYPOINT":
      // Docker resets an inherited CMD when ENTRYPOINT is set (reviewConfig in kaniko, the same in BuildKit).
      return withRuntime(state, { Entrypoint: commandArgv(instr.cmd, rc.Shell), Cmd: null });
    case "SHELL":
      if (instr.shell.length === 0) throw new InstructionError("SHELL needs a JSON array with at least one element");
      return withRuntime(state, { Shell: instr.shell });
    case "EXPOSE": {
      const ports = { ...(rc.ExposedPorts ?? {}) };
      for (const p of instr.ports) {
        const [port, proto = "tcp"] = p.split("/");
        if (!/^\d+(-\d+)?$/.test(port)) throw new InstructionError(`EXPOSE ${p}: invalid port`);
        if (!["tcp", "udp", "sctp"].includes(proto.toLowerCase())) throw new InstructionError(`EXPOSE ${p}: protocol must be tcp, udp or sctp`);
        ports[`${port}/${proto.toLowerCase()}`] = {};
      }
      return withRuntime(state, { ExposedPorts: ports });
    }
    case "VOLUME": {
      const vols = { ...(rc.Volumes ?? {}) };
      for (const v of instr.volumes) {
        if (!v) throw new InstructionError("VOLUME specified can not be an empty string");
        vols[v] = {};
      }
      return withRuntime(state, { Volumes: vols });
    }
    case "STOPSIGNAL":
      if (!SIGNAL.test(instr.signal)) throw new InstructionError(`STOPSIGNAL ${instr.signal}: not a signal name or number`);
      return withRuntime(state, { StopSignal: instr.signal });
    case "HEALTHCHECK":
      if (instr.type === "NONE") return withRuntime(state, { Healthcheck: { Test: ["NONE"] } });
      return withRuntime(state, {
        Healthcheck: {
          Test: instr.cmd.form === "exec" ? ["CMD", ...instr.cmd.args] : ["CMD-SHELL", instr.cmd.text],
          ...(instr.options.interval ? { Interval: instr.options.interval } : {}),
          ...(instr.options.timeout ? { Timeout: instr.options.timeout } : {}),
          ...(instr.options.startPeriod ? { StartPeriod: instr.options.startPeriod } : {}),
          ...(instr.options.startInterval ? { StartInterval: instr.options.startInterval } : {}),
          ...(instr.options.retries ? { Retries: instr.options.retries } : {}),
        },
      });
    case "ONBUILD":
      return withRuntime(state, { OnBuild: [...(rc.OnBuild ?? []), instr.expression] });
    case "MAINTAINER":
      return { ...state, config: { ...state.config, author: instr.maintainer } };
    case "ARG":
      return state; // handled by applyArg, which needs the build args
  }
}

// Instructions that only change the image config. Each is a pure function of the (expanded) instruction and the state.
import type {
  ArgInstruction, CmdInstruction, EntrypointInstruction, EnvInstruction, ExposeInstruction, HealthcheckInstruction, LabelInstruction,
  MaintainerInstruction, OnbuildInstruction, ShellInstruction, StopsignalInstruction, UserInstruction, VolumeInstruction, Command,
} from "../dockerfile/mod.ts";
import type { ImageConfig } from "../image/mod.ts";
import type { StageState } from "./state.ts";
import { setEnv, withoutArgEnv, withRuntime } from "./state.ts";
import {
  argCreatedBy, commandCreatedBy, envCreatedBy, exposeCreatedBy, healthcheckCreatedBy, labelCreatedBy, shellCreatedBy, volumeCreatedBy,
} from "./history.ts";

export class InstructionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
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
  // A linear state's ARGs are extended in place (see StageState.linear).
  const args = state.linear ? (state.args as Map<string, string | undefined>) : new Map(state.args);
  const declared = state.linear && state.declaredArgs ? (state.declaredArgs as string[]) : [...(state.declaredArgs ?? [])];
  const argEnv = state.linear && state.argEnv ? (state.argEnv as Map<string, string>) : new Map(state.argEnv);
  for (const a of instr.args) {
    let value: string | undefined;
    if (Object.hasOwn(buildArgs, a.name) && buildArgs[a.name] !== undefined) value = buildArgs[a.name];
    else if (a.default !== undefined) value = a.default;
    else value = metaArgs.get(a.name);
    args.set(a.name, value);
    declared.push(a.name);
    // BuildKit adds a valued ARG to the build env, over an ENV of the same name set before it.
    if (value !== undefined) argEnv.set(a.name, value);
  }
  return { ...state, args, declaredArgs: declared, argEnv };
}

const SIGNAL = /^(?:SIG)?[A-Z0-9+-]+$|^\d+$/;

/** Go's encoding/json writes map keys sorted; kiln keeps config maps sorted so its config bytes match. */
function sorted<V>(record: Record<string, V>): Record<string, V> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Labels merged and sorted (also used for --label on the final image). */
export function withLabels(labels: Record<string, string> | undefined, add: Record<string, string>): Record<string, string> {
  return sorted({ ...(labels ?? {}), ...add });
}

/**
 * The config's maps in Go's key order, once at the end of a stage: steps only add to them (sorting on every
 * step made a long run of LABELs quadratic).
 */
export function sortedConfig(config: ImageConfig): ImageConfig {
  const rc = { ...config.config };
  if (rc.Labels) rc.Labels = sorted(rc.Labels);
  if (rc.ExposedPorts) rc.ExposedPorts = sorted(rc.ExposedPorts);
  if (rc.Volumes) rc.Volumes = sorted(rc.Volumes);
  return { ...config, config: rc };
}

/** A map of the runtime config to add to: the state's own in a linear state, else a copy. */
function extendable<V>(state: StageState, m: Record<string, V> | null | undefined): Record<string, V> {
  return state.linear && m ? m : { ...(m ?? {}) };
}

/** EXPOSE's port keys as Docker's nat.ParsePortSpecs makes them: ranges expanded, protocol lower-cased, tcp by default. */
export function exposedPorts(spec: string): string[] {
  const slash = spec.lastIndexOf("/");
  const port = slash < 0 ? spec : spec.slice(0, slash);
  const proto = (slash < 0 ? "tcp" : spec.slice(slash + 1)).toLowerCase();
  const m = /^(\d+)(?:-(\d+))?$/.exec(port);
  if (!m) throw new InstructionError(`EXPOSE ${spec}: invalid port: give PORT, PORT/PROTOCOL or START-END[/PROTOCOL]`);
  if (!["tcp", "udp", "sctp"].includes(proto)) throw new InstructionError(`EXPOSE ${spec}: protocol must be tcp, udp or sctp`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535 || end < start) throw new InstructionError(`EXPOSE ${spec}: invalid port range`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

export interface MetadataResult {
  state: StageState;
  /** undefined: the instruction leaves no history entry (ONBUILD, as in BuildKit). */
  createdBy: string | undefined;
}

export function applyMetadata(instr: MetadataInstruction, state: StageState): MetadataResult {
  const rc = state.config.config;
  switch (instr.kind) {
    case "ENV":
      return {
        state: withoutArgEnv({ ...state, config: setEnv(state.config, instr.pairs, state.linear) }, instr.pairs.map((p) => p.key)),
        createdBy: envCreatedBy(instr),
      };
    case "LABEL": {
      const labels = extendable(state, rc.Labels);
      for (const p of instr.pairs) labels[p.key] = p.value;
      return { state: withRuntime(state, { Labels: labels }), createdBy: labelCreatedBy(instr) };
    }
    case "USER":
      return { state: withRuntime(state, { User: instr.user }), createdBy: instr.original };
    case "CMD": {
      const argv = commandArgv(instr.cmd, rc.Shell);
      return { state: { ...withRuntime(state, { Cmd: argv }), cmdSet: true }, createdBy: commandCreatedBy("CMD", argv) };
    }
    case "ENTRYPOINT": {
      // BuildKit drops an inherited CMD when ENTRYPOINT is set, but keeps a CMD set earlier in this same stage.
      const argv = commandArgv(instr.cmd, rc.Shell);
      const patch = state.cmdSet ? { Entrypoint: argv } : { Entrypoint: argv, Cmd: null };
      return { state: withRuntime(state, patch), createdBy: commandCreatedBy("ENTRYPOINT", argv) };
    }
    case "SHELL":
      if (instr.shell.length === 0) throw new InstructionError("SHELL needs a JSON array with at least one element");
      return { state: withRuntime(state, { Shell: instr.shell }), createdBy: shellCreatedBy(instr) };
    case "EXPOSE": {
      const added = instr.ports.flatMap(exposedPorts);
      const ports = extendable(state, rc.ExposedPorts);
      for (const p of added) ports[p] = {};
      return { state: withRuntime(state, { ExposedPorts: ports }), createdBy: exposeCreatedBy(added) };
    }
    case "VOLUME": {
      if (instr.volumes.some((v) => !v)) throw new InstructionError("VOLUME specified can not be an empty string");
      const vols = extendable(state, rc.Volumes);
      for (const v of instr.volumes) vols[v] = {};
      return { state: withRuntime(state, { Volumes: vols }), createdBy: volumeCreatedBy(instr) };
    }
    case "STOPSIGNAL":
      if (!SIGNAL.test(instr.signal)) throw new InstructionError(`STOPSIGNAL ${instr.signal}: not a signal name or number`);
      return { state: withRuntime(state, { StopSignal: instr.signal }), createdBy: instr.original };
    case "HEALTHCHECK": {
      if (instr.type === "NONE") return { state: withRuntime(state, { Healthcheck: { Test: ["NONE"] } }), createdBy: healthcheckCreatedBy(instr, ["NONE"]) };
      const test = instr.cmd.form === "exec" ? ["CMD", ...instr.cmd.args] : ["CMD-SHELL", instr.cmd.text];
      const state2 = withRuntime(state, {
        Healthcheck: {
          Test: test,
          ...(instr.options.interval ? { Interval: instr.options.interval } : {}),
          ...(instr.options.timeout ? { Timeout: instr.options.timeout } : {}),
          ...(instr.options.startPeriod ? { StartPeriod: instr.options.startPeriod } : {}),
          ...(instr.options.startInterval ? { StartInterval: instr.options.startInterval } : {}),
          ...(instr.options.retries ? { Retries: instr.options.retries } : {}),
        },
      });
      return { state: state2, createdBy: healthcheckCreatedBy(instr, test) };
    }
    case "ONBUILD": {
      const triggers = state.linear && rc.OnBuild ? rc.OnBuild : [...(rc.OnBuild ?? [])];
      triggers.push(instr.expression);
      return { state: withRuntime(state, { OnBuild: triggers }), createdBy: undefined };
    }
    case "MAINTAINER":
      return { state: { ...state, config: { ...state.config, author: instr.maintainer } }, createdBy: instr.original };
    case "ARG":
      return { state, createdBy: argCreatedBy(instr) }; // values are set by applyArg, which needs the build args
  }
}

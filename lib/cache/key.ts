// A step's cache key: SHA-256 over canonical JSON (object keys sorted, Maps as sorted entry lists, undefined
// left out) of everything that decides what the step writes and its history entry. stepKey is pure: the same
// input gives the same key in any process; content digests come in as inputs (contextKeyInputs reads the
// context for them, the builder supplies stage and image keys).
//
// What BuildKit does, and kiln follows: the instruction counts by its parsed, expanded fields, never its text
// as written, so continuations, comments inside them and spacing around flags change no key, while the
// command string of a shell-form RUN is the command itself: `RUN echo  hi` and `RUN echo hi` run different
// strings, and BuildKit's ExecOp (its args are part of the op digest) keys them apart; kiln too. Undeclared
// proxy build args (HTTP_PROXY ...) reach RUN outside the stage's ARGs, and BuildKit keeps them out of the key
// (llb.WithProxy); declared ones are ARGs like any other. Secret and ssh mounts count by their fields (id,
// target, env, ...): their values never reach this function. Modification times of context files are not inputs.
import { createHash } from "node:crypto";
import { contextSourcesDigest, isGitUrl, type BuildContext } from "../context/mod.ts";
import type { ContainerConfig, Platform } from "../image/mod.ts";

/** Bumped whenever what a key covers, or how an entry's layer is made from the same inputs, changes. */
export const CACHE_FORMAT_VERSION = 1;

/** A key's input is incomplete: a source the step reads has no digest (a caller's mistake; the step is not cacheable). */
export class CacheKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CacheKeyError";
  }
}

/**
 * The expanded instruction: lib/dockerfile's Instruction (lib/cache may not import lib/dockerfile, so the shape
 * is structural). `line`, `endLine` and `original` are left out of the key, except where the history entry is
 * the original text (USER, STOPSIGNAL, MAINTAINER): a hit must give the same history as running the step.
 */
export interface KeyInstruction {
  readonly kind: string;
  readonly original: string;
}

/** The stage state before the step (lib/instructions' StageState fits it). */
export interface KeyState {
  config: { config: Pick<ContainerConfig, "Env" | "WorkingDir" | "User" | "Shell"> };
  /** ARGs declared in the stage so far and their values: the build args the step can see. */
  args: ReadonlyMap<string, string | undefined>;
  /** Declaration order, repeats kept (RUN's history lists them). */
  declaredArgs?: readonly string[];
}

/** Build options that shape a step's layer (BuildOptions fits it; only these fields are read). */
export interface KeyBuildOptions {
  compression: string;
  compressionLevel?: number;
  reproducible: boolean;
  sourceDateEpoch?: number;
  /** RUN only: how its changes are found. */
  snapshotMode?: string;
  /** RUN only: the network of a RUN without --network. */
  network?: string;
}

type Lookup = Readonly<Record<string, string>> | ReadonlyMap<string, string>;

export interface StepKeyInput {
  /** The key of the step before in this stage; for the first step, baseKey() of the base image or the last key of the stage it is based on. */
  parent: string;
  instruction: KeyInstruction;
  state: KeyState;
  build: KeyBuildOptions;
  /** COPY/ADD: contextSourcesDigest() of the instruction's context sources (contextKeyInputs() makes it and bindSources). */
  contextSources?: string;
  /**
   * Each `--from` of COPY and `from=` of RUN --mount, as written (expanded) -> the key of its content: a stage's
   * last key, or baseKey() of an image.
   */
  fromKeys?: Lookup;
  /** RUN: per entry of instruction.mounts, the contextSourcesDigest() of a bind mount without from= (its source). */
  bindSources?: readonly (string | undefined)[];
}

/** The parent key of a stage's first step: the base image's manifest digest ("scratch" for FROM scratch) and platform. */
export function baseKey(manifestDigest: string, platform: Platform): string {
  return sha256({ version: CACHE_FORMAT_VERSION, base: manifestDigest, platform });
}

/**
 * The key of one step; throws CacheKeyError when a content input its instruction needs (stepKeyNeeds) is
 * missing. Chain every step of a stage, config-only ones too, through `parent`.
 */
export function stepKey(input: StepKeyInput): string {
  const { instruction: instr, state, build } = input;
  const rc = state.config.config;
  return sha256({
    version: CACHE_FORMAT_VERSION,
    parent: input.parent,
    instruction: canonicalInstruction(instr),
    env: rc.Env ?? [],
    args: state.args,
    declaredArgs: state.declaredArgs ?? [],
    workdir: rc.WorkingDir,
    user: rc.User,
    shell: rc.Shell,
    layer: {
      compression: build.compression, level: build.compressionLevel, reproducible: build.reproducible, sourceDateEpoch: build.sourceDateEpoch,
      ...(instr.kind === "RUN" ? { snapshotMode: build.snapshotMode, network: build.network } : {}),
    },
    inputs: contentInputs(instr, input),
  });
}

const URL_SOURCE = /^https?:\/\//i;
const HISTORY_IS_TEXT = new Set(["USER", "STOPSIGNAL", "MAINTAINER"]);

function canonicalInstruction(instr: KeyInstruction): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v === null || typeof v !== "object") return v;
    const o = v as Record<string, unknown>;
    const isInstruction = typeof o.kind === "string";
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) {
      if (isInstruction && (k === "line" || k === "endLine" || (k === "original" && !HISTORY_IS_TEXT.has(o.kind as string)))) continue;
      out[k] = strip(x);
    }
    return out;
  };
  return strip(instr);
}

/** What a step reads besides its instruction and state: the content inputs its key needs. */
export interface StepKeyNeeds {
  /** COPY/ADD without --from: sources to digest from the context (URLs and git sources aside), and --exclude. */
  context?: { sources: string[]; exclude: string[] };
  /** `--from` of COPY and `from=` of RUN mounts, in order: fromKeys must hold each. */
  from: string[];
  /**
   * ADD URL (without --checksum) and git sources: only fetching them tells their content, so such a step has no
   * key (stepKey throws; the builder does not ask for one).
   */
  remote: string[];
  /** RUN: per mount, the context source of a bind mount without from= (undefined for other mounts). */
  binds: (string | undefined)[];
}

export function stepKeyNeeds(instruction: KeyInstruction): StepKeyNeeds {
  const instr = instruction as unknown as Record<string, unknown>;
  const needs: StepKeyNeeds = { from: [], remote: [], binds: [] };
  if (instr.kind === "COPY" || instr.kind === "ADD") {
    const from = instr.from as string | undefined;
    if (from !== undefined) needs.from.push(from);
    else {
      const sources = instr.sources as string[];
      const isRemote = (s: string) => instr.kind === "ADD" && (URL_SOURCE.test(s) || isGitUrl(s));
      const local = sources.filter((s) => !isRemote(s));
      if (local.length) needs.context = { sources: local, exclude: instr.exclude as string[] };
      // --checksum is part of the instruction and pins its one URL's content.
      needs.remote = sources.filter((s) => isRemote(s) && !(instr.checksum !== undefined && !isGitUrl(s)));
    }
  } else if (instr.kind === "RUN") {
    for (const m of instr.mounts as { type: string; from?: string; source?: string }[]) {
      if (m.from !== undefined) needs.from.push(m.from);
      needs.binds.push(m.type === "bind" && m.from === undefined ? (m.source ?? "/") : undefined);
    }
  }
  return needs;
}

/**
 * The inputs of stepKey read from the build context: the digests of COPY/ADD sources and of RUN bind mounts.
 * `digests`, one per build (the context does not change during it), keeps each (sources, exclude) digest so that
 * steps naming the same sources read them once.
 */
export function contextKeyInputs(
  instruction: KeyInstruction, context: Pick<BuildContext, "dir" | "ignore">, digests?: Map<string, string>,
): Pick<StepKeyInput, "contextSources" | "bindSources"> {
  const digest = (sources: string[], exclude: string[] = []): string => {
    const key = JSON.stringify([sources, exclude]);
    let d = digests?.get(key);
    if (d === undefined) {
      d = contextSourcesDigest(context, sources, exclude);
      digests?.set(key, d);
    }
    return d;
  };
  const needs = stepKeyNeeds(instruction);
  const out: Pick<StepKeyInput, "contextSources" | "bindSources"> = {};
  if (needs.context) out.contextSources = digest(needs.context.sources, needs.context.exclude);
  if (needs.binds.some((b) => b !== undefined)) out.bindSources = needs.binds.map((s) => (s === undefined ? undefined : digest([s])));
  return out;
}

function contentInputs(instr: KeyInstruction, input: StepKeyInput): unknown {
  const needs = stepKeyNeeds(instr);
  const need = (v: string | undefined, what: string): string => {
    if (v === undefined) throw new CacheKeyError(`${instr.kind}: ${what} has no content key`);
    return v;
  };
  if (needs.remote.length) throw new CacheKeyError(`${instr.kind}: source "${needs.remote[0]}" has no content key (only fetching it tells)`);
  return {
    context: needs.context ? need(input.contextSources, "the context sources") : undefined,
    from: needs.from.map((f) => need(lookup(input.fromKeys, f), `from "${f}"`)),
    // Always empty (a remote source throws above); kept so that keys stay those of CACHE_FORMAT_VERSION 1.
    remote: [],
    binds: needs.binds.map((s, i) => (s === undefined ? null : need(input.bindSources?.[i], `the bind mount of "${s}"`))),
  };
}

function lookup(m: Lookup | undefined, k: string): string | undefined {
  if (!m) return undefined;
  return m instanceof Map ? m.get(k) : Object.hasOwn(m, k) ? (m as Record<string, string>)[k] : undefined;
}

function sha256(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}

/** JSON with object keys in code-unit order, Maps as sorted [key, value] lists, undefined left out (null in lists). */
function canonicalJson(value: unknown): string {
  if (value === undefined || value === null) return "null";
  if (typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new CacheKeyError(`a key input is not a finite number: ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value instanceof Map) return canonicalJson([...value.entries()].sort(([a], [b]) => compare(String(a), String(b))));
  const proto = typeof value === "object" ? Object.getPrototypeOf(value) : undefined;
  if (proto === Object.prototype || proto === null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => compare(a, b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  throw new CacheKeyError(`a key input cannot be serialised: ${Object.prototype.toString.call(value)}`);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// A step's cache key: SHA-256 over canonical JSON (object keys sorted, Maps as sorted entry lists, undefined
// left out) of everything that decides what the step writes. One pure function: the same input gives the same
// key in any process, and nothing is read from disk or the clock here (content digests come in as inputs).
//
// What BuildKit does, and kiln follows: the instruction counts by its parsed, expanded fields, never its text
// as written, so continuations, comments inside them and spacing around flags change no key, while the
// command string of a shell-form RUN is the command itself: `RUN echo  hi` and `RUN echo hi` run different
// strings, and BuildKit's ExecOp (its args are part of the op digest) keys them apart; kiln too. Undeclared
// proxy build args (HTTP_PROXY ...) reach RUN outside the stage's ARGs, and BuildKit keeps them out of the key
// (llb.WithProxy); declared ones are ARGs like any other. Secret and ssh mounts count by their fields (id,
// target, env, ...): their values never reach this function. Modification times of context files are not inputs.
import { createHash } from "node:crypto";
import { isGitUrl } from "../context/mod.ts";
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
  /** COPY/ADD: contextSourcesDigest() of the instruction's context sources (URLs and git sources aside), with its --exclude. */
  contextSources?: string;
  /**
   * Each `--from` of COPY and `from=` of RUN --mount, as written (expanded) -> the key of its content: a stage's
   * last key, or baseKey() of an image.
   */
  fromKeys?: Lookup;
  /** ADD: each URL or git source -> its content digest (the fetched bytes' digest, a git commit). A URL with --checksum needs none. */
  remoteDigests?: Lookup;
  /** RUN: per entry of instruction.mounts, the contextSourcesDigest() of a bind mount without from= (its source). */
  bindSources?: readonly (string | undefined)[];
}

/** The parent key of a stage's first step: the base image's manifest digest ("scratch" for FROM scratch) and platform. */
export function baseKey(manifestDigest: string, platform: Platform): string {
  return sha256({ version: CACHE_FORMAT_VERSION, base: manifestDigest, platform });
}

export function stepKey(input: StepKeyInput): string {
  const { instruction: instr, state, build } = input;
  const rc = state.config.config;
  const fields = instr as unknown as Record<string, unknown>;
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
    inputs: instr.kind === "COPY" || instr.kind === "ADD" ? copyInputs(fields, input) : instr.kind === "RUN" ? runInputs(fields, input) : undefined,
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

function lookup(m: Lookup | undefined, k: string): string | undefined {
  if (!m) return undefined;
  return m instanceof Map ? m.get(k) : Object.hasOwn(m, k) ? (m as Record<string, string>)[k] : undefined;
}

function required(m: Lookup | undefined, k: string, what: string): string {
  const v = lookup(m, k);
  if (v === undefined) throw new CacheKeyError(`${what} "${k}" has no content key`);
  return v;
}

function copyInputs(instr: Record<string, unknown>, input: StepKeyInput): unknown {
  const sources = instr.sources as string[];
  const from = instr.from as string | undefined;
  if (from !== undefined) return { from: required(input.fromKeys, from, "--from") };
  const remote = instr.kind === "ADD" ? sources.filter((s) => URL_SOURCE.test(s) || isGitUrl(s)) : [];
  const local = sources.length > remote.length;
  if (local && input.contextSources === undefined) throw new CacheKeyError(`${instr.kind}: the context sources have no digest`);
  return {
    context: local ? input.contextSources : undefined,
    remote: remote.map((s) => (instr.checksum !== undefined && URL_SOURCE.test(s) && !isGitUrl(s) ? [s] : [s, required(input.remoteDigests, s, "source")])),
  };
}

function runInputs(instr: Record<string, unknown>, input: StepKeyInput): unknown {
  const mounts = instr.mounts as { type: string; from?: string }[];
  return mounts.map((m, i) => {
    if (m.from !== undefined) return required(input.fromKeys, m.from, "--mount from=");
    if (m.type !== "bind") return null;
    const digest = input.bindSources?.[i];
    if (digest === undefined) throw new CacheKeyError(`RUN --mount=type=bind (mount ${i + 1}): its context source has no digest`);
    return digest;
  });
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

// One logical line -> one typed instruction, with flags checked and arguments split the way BuildKit does.
import { ParseFailure } from "./errors.ts";
import { parseDuration } from "./duration.ts";
import { parseFlags, type FlagSpec, type ParsedFlags } from "./flags.ts";
import { parseHeredocWord } from "./heredoc.ts";
import { parseMount } from "./mounts.ts";
import { suggest } from "./suggest.ts";
import type {
  Base,
  Command,
  HealthcheckOptions,
  Heredoc,
  HeredocSource,
  Instruction,
  InstructionKind,
  KeyValue,
  Warning,
} from "./types.ts";
import { parseJSONArray, parseWords, splitCommand, splitWhitespace } from "./words.ts";

export interface NodeInput {
  text: string;
  line: number;
  endLine: number;
  heredocs: Heredoc[];
}

export interface ParseContext {
  escape: string;
  warn(w: Omit<Warning, "line">): void;
}

const FLAGS: Record<InstructionKind, FlagSpec> = {
  FROM: { platform: "string" },
  RUN: { mount: "strings", network: "string", security: "string" },
  CMD: {},
  ENTRYPOINT: {},
  SHELL: {},
  ENV: {},
  ARG: {},
  LABEL: {},
  EXPOSE: {},
  VOLUME: {},
  USER: {},
  WORKDIR: {},
  COPY: { from: "string", chown: "string", chmod: "string", link: "bool", parents: "bool", exclude: "strings" },
  ADD: {
    chown: "string",
    chmod: "string",
    link: "bool",
    checksum: "string",
    "keep-git-dir": "bool",
    exclude: "strings",
    unpack: "bool",
  },
  STOPSIGNAL: {},
  HEALTHCHECK: { interval: "string", timeout: "string", "start-period": "string", "start-interval": "string", retries: "string" },
  ONBUILD: {},
  MAINTAINER: {},
};

export const INSTRUCTION_KINDS = Object.keys(FLAGS) as InstructionKind[];

const STAGE_NAME = /^[a-z][a-z0-9\-_.]*$/;
const NETWORKS = new Set(["default", "none", "host"]);
const SECURITY = new Set(["sandbox", "insecure"]);
const fail = (msg: string): never => {
  throw new ParseFailure(msg);
};

function command(args: string, emptyAsExec: boolean): Command {
  const json = parseJSONArray(args);
  if (json !== undefined) return { form: "exec", args: json };
  if (args === "" && emptyAsExec) return { form: "exec", args: [] };
  return { form: "shell", text: args };
}

// ENV and LABEL: `KEY value` (legacy, one pair, value is the rest) or `k=v k2="v 2"`.
function keyValues(kind: "ENV" | "LABEL", args: string, ctx: ParseContext): KeyValue[] {
  const words = parseWords(args, ctx.escape);
  if (words.length === 0) fail(`${kind} requires at least one argument`);
  if (!words[0].includes("=")) {
    const m = /[\t\v\f\r ]+/.exec(args);
    if (!m) fail(`${kind} must have two arguments`);
    ctx.warn({
      rule: "LegacyKeyValueFormat",
      message: `"${kind} key=value" should be used instead of legacy "${kind} key value" format`,
    });
    return [{ key: args.slice(0, m!.index), value: args.slice(m!.index + m![0].length) }];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq < 0) fail(`Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}

function exactlyOne(kind: string, args: string): string {
  if (args === "") fail(`${kind} requires exactly one argument`);
  return args;
}

function listArgs(args: string): string[] {
  return parseJSONArray(args) ?? splitWhitespace(args);
}

function healthOptions(flags: ParsedFlags): HealthcheckOptions {
  const opts: HealthcheckOptions = {};
  const dur = (flag: string, key: keyof HealthcheckOptions) => {
    const v = flags.string(flag);
    if (v === undefined) return;
    const ns = parseDuration(v);
    if (ns < 0) fail(`Interval "${flag}" cannot be negative`);
    // Docker rejects non-zero values under one millisecond.
    if (ns !== 0 && ns < 1e6) fail(`Interval "${flag}" cannot be less than 1ms`);
    opts[key] = ns;
  };
  dur("interval", "interval");
  dur("timeout", "timeout");
  dur("start-period", "startPeriod");
  dur("start-interval", "startInterval");
  const r = flags.string("retries");
  if (r !== undefined) {
    if (!/^[+-]?\d+$/.test(r)) fail(`invalid value for --retries: ${JSON.stringify(r)}, expected an integer`);
    const n = Number(r);
    if (n < 0) fail(`--retries cannot be negative (${n})`);
    opts.retries = n;
  }
  return opts;
}

function copySources(kind: string, args: string, heredocs: Heredoc[]) {
  const words = listArgs(args);
  if (words.length < 2) {
    fail(`${kind} requires at least two arguments, but only one was provided. Destination could not be determined`);
  }
  const dest = words[words.length - 1];
  if (parseHeredocWord(dest)) fail(`${kind} cannot accept a heredoc as a destination`);
  const sources: string[] = [];
  const heredocSources: HeredocSource[] = [];
  for (const src of words.slice(0, -1)) {
    const h = parseHeredocWord(src);
    if (!h) {
      sources.push(src);
      continue;
    }
    const doc = heredocs.find((d) => d.name === h.name);
    heredocSources.push({ name: h.name, content: doc?.content ?? "", expand: h.expand });
  }
  return { sources, heredocSources, dest };
}

/** Parses one logical line. Throws ParseFailure for anything BuildKit would reject. */
export function parseInstruction(node: NodeInput, ctx: ParseContext): Instruction {
  const { cmd, flags: rawFlags, args } = splitCommand(node.text);
  const kind = cmd.toUpperCase() as InstructionKind;
  if (!Object.hasOwn(FLAGS, kind)) {
    const hint = suggest(cmd, INSTRUCTION_KINDS);
    fail(`unknown instruction: ${cmd.toUpperCase()}${hint ? ` (did you mean ${hint}?)` : ""}`);
  }
  const flags = parseFlags(rawFlags, FLAGS[kind]);
  const base: Base = { line: node.line, endLine: node.endLine, original: node.text };

  switch (kind) {
    case "FROM": {
      const words = splitWhitespace(args);
      if (!(words.length === 1 || (words.length === 3 && words[1].toLowerCase() === "as"))) {
        fail("FROM requires either one or three arguments");
      }
      let name: string | undefined;
      if (words.length === 3) {
        name = words[2].toLowerCase();
        if (!STAGE_NAME.test(name)) {
          fail(`invalid name for build stage: ${JSON.stringify(words[2])}, name can't start with a number or contain symbols`);
        }
        if (words[2] !== name) ctx.warn({ rule: "StageNameCasing", message: `Stage name '${words[2]}' should be lowercase` });
        const upper = (s: string) => s === s.toUpperCase();
        const lower = (s: string) => s === s.toLowerCase();
        if ((upper(cmd) && lower(words[1])) || (lower(cmd) && upper(words[1]))) {
          ctx.warn({ rule: "FromAsCasing", message: `'${words[1]}' and '${cmd}' keywords' casing do not match` });
        }
      }
      return { ...base, kind, image: words[0], name, platform: flags.string("platform") };
    }
    case "RUN": {
      if (args === "") fail("RUN requires at least one argument");
      const network = flags.string("network");
      if (network !== undefined && !NETWORKS.has(network)) fail(`unsupported network mode: ${network}`);
      const security = flags.string("security");
      if (security !== undefined && !SECURITY.has(security)) fail(`unsupported security mode: ${security}`);
      return {
        ...base,
        kind,
        cmd: command(args, false),
        mounts: flags.strings("mount").map(parseMount),
        network,
        security,
        heredocs: node.heredocs,
      };
    }
    case "CMD":
    case "ENTRYPOINT": {
      const c = command(args, kind === "ENTRYPOINT");
      if (c.form === "shell") {
        ctx.warn({
          rule: "JSONArgsRecommended",
          message: `JSON arguments recommended for ${kind} to prevent unintended behavior related to OS signals`,
        });
      }
      return kind === "CMD" ? { ...base, kind, cmd: c } : { ...base, kind, cmd: c };
    }
    case "SHELL": {
      const shell = parseJSONArray(args);
      if (shell === undefined) fail("SHELL requires the arguments to be in JSON form");
      if (shell!.length === 0) fail("SHELL requires at least one argument");
      return { ...base, kind, shell: shell! };
    }
    case "ENV":
      return { ...base, kind, pairs: keyValues(kind, args, ctx) };
    case "LABEL":
      return { ...base, kind, pairs: keyValues(kind, args, ctx) };
    case "ARG": {
      const words = parseWords(args, ctx.escape);
      if (words.length === 0) fail("ARG requires at least one argument");
      return {
        ...base,
        kind,
        args: words.map((w) => {
          const eq = w.indexOf("=");
          return eq < 0 ? { name: w } : { name: w.slice(0, eq), default: w.slice(eq + 1) };
        }),
      };
    }
    case "EXPOSE": {
      const ports = splitWhitespace(args);
      if (ports.length === 0) fail("EXPOSE requires at least one argument");
      return { ...base, kind, ports };
    }
    case "VOLUME": {
      const volumes = listArgs(args);
      if (volumes.length === 0) fail("VOLUME requires at least one argument");
      if (volumes.some((v) => v.trim() === "")) fail("VOLUME specified can not be an empty string");
      return { ...base, kind, volumes };
    }
    case "USER":
      return { ...base, kind, user: exactlyOne(kind, args) };
    case "WORKDIR":
      return { ...base, kind, path: exactlyOne(kind, args) };
    case "STOPSIGNAL":
      return { ...base, kind, signal: exactlyOne(kind, args) };
    case "MAINTAINER":
      ctx.warn({ rule: "MaintainerDeprecated", message: "Maintainer instruction is deprecated in favor of using label" });
      return { ...base, kind, maintainer: exactlyOne(kind, args) };
    case "COPY":
      return {
        ...base,
        kind,
        ...copySources(kind, args, node.heredocs),
        from: flags.string("from"),
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link") ?? false,
        parents: flags.bool("parents") ?? false,
        exclude: flags.strings("exclude"),
      };
    case "ADD":
      return {
        ...base,
        kind,
        ...copySources(kind, args, node.heredocs),
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link") ?? false,
        checksum: flags.string("checksum"),
        keepGitDir: flags.bool("keep-git-dir") ?? false,
        unpack: flags.bool("unpack"),
        exclude: flags.strings("exclude"),
      };
    case "HEALTHCHECK": {
      const m = /^(\S+)\s*([\s\S]*)$/.exec(args);
      if (!m) fail("HEALTHCHECK requires an argument");
      const type = m![1].toUpperCase();
      const rest = m![2];
      if (type === "NONE") {
        if (rest !== "") fail("HEALTHCHECK NONE takes no arguments");
        return { ...base, kind, type };
      }
      if (type !== "CMD") fail(`Unknown type ${JSON.stringify(m![1])} in HEALTHCHECK (try CMD)`);
      if (rest === "") fail("Missing command after HEALTHCHECK CMD");
      return { ...base, kind, type: "CMD", cmd: command(rest, false), options: healthOptions(flags) };
    }
    case "ONBUILD": {
      if (args === "") fail("ONBUILD requires at least one argument");
      const inner = splitCommand(args).cmd.toUpperCase();
      if (inner === "ONBUILD") fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (inner === "FROM" || inner === "MAINTAINER") fail(`${inner} isn't allowed as an ONBUILD trigger`);
      const trigger = parseInstruction({ ...node, text: args }, ctx);
      return { ...base, kind, expression: node.text.replace(/^\s*ONBUILD\s*/i, ""), trigger };
    }
  }
}

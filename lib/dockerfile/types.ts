// The parse result: typed instructions grouped into stages. Every word is kept exactly as written
// (unexpanded); `expandInstruction` produces the expanded copy when a step is about to run.

export interface Warning {
  /** Short rule name as BuildKit's linter calls it, e.g. "NoEmptyContinuation". */
  rule: string;
  message: string;
  line: number;
}

/** A command in exec form (JSON array) or shell form (text given to the stage's SHELL). */
export type Command = { form: "shell"; text: string } | { form: "exec"; args: string[] };

export interface Heredoc {
  /** The delimiter word with quotes removed (EOF in `<<"EOF"`). */
  name: string;
  /** The body, with leading tabs already stripped for `<<-`. Lines keep their newlines. */
  content: string;
  /** False when any part of the delimiter was quoted: the body is then taken literally. */
  expand: boolean;
  /** `<<-` form. */
  chomp: boolean;
  /** The file descriptor written before `<<` (e.g. `3<<EOF`), 0 when none. */
  fd: number;
}

export interface Base {
  line: number;
  endLine: number;
  /** The instruction's text with continuations joined, as BuildKit records it (e.g. history `created_by`). */
  original: string;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface FromInstruction extends Base {
  kind: "FROM";
  image: string;
  /** Stage name from `AS name`, lower-cased. */
  name?: string;
  platform?: string;
}

/** A RUN `--mount` value; every field is still unexpanded text. */
export interface RunMount {
  type: "bind" | "cache" | "tmpfs" | "secret" | "ssh";
  target?: string;
  source?: string;
  from?: string;
  readonly: boolean;
  id?: string;
  sharing?: string;
  mode?: string;
  uid?: string;
  gid?: string;
  size?: string;
  required?: boolean;
  /** secret mounts: expose as this environment variable. */
  env?: string;
}

export interface RunInstruction extends Base {
  kind: "RUN";
  cmd: Command;
  mounts: RunMount[];
  network?: string;
  security?: string;
  heredocs: Heredoc[];
}

export interface CmdInstruction extends Base {
  kind: "CMD";
  cmd: Command;
}

export interface EntrypointInstruction extends Base {
  kind: "ENTRYPOINT";
  cmd: Command;
}

export interface ShellInstruction extends Base {
  kind: "SHELL";
  shell: string[];
}

export interface EnvInstruction extends Base {
  kind: "ENV";
  pairs: KeyValue[];
}

export interface ArgDef {
  name: string;
  default?: string;
}

export interface ArgInstruction extends Base {
  kind: "ARG";
  args: ArgDef[];
}

export interface LabelInstruction extends Base {
  kind: "LABEL";
  pairs: KeyValue[];
}

export interface ExposeInstruction extends Base {
  kind: "EXPOSE";
  ports: string[];
}

export interface VolumeInstruction extends Base {
  kind: "VOLUME";
  volumes: string[];
}

export interface UserInstruction extends Base {
  kind: "USER";
  user: string;
}

export interface WorkdirInstruction extends Base {
  kind: "WORKDIR";
  path: string;
}

/** An inline source file from a heredoc (`COPY <<EOF /dest`). */
export interface HeredocSource {
  name: string;
  content: string;
  expand: boolean;
}

interface CopyAddCommon extends Base {
  /** Source paths (or URLs/git refs for ADD), heredoc sources excluded. */
  sources: string[];
  heredocSources: HeredocSource[];
  dest: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  exclude: string[];
}

export interface CopyInstruction extends CopyAddCommon {
  kind: "COPY";
  from?: string;
  parents: boolean;
}

export interface AddInstruction extends CopyAddCommon {
  kind: "ADD";
  checksum?: string;
  keepGitDir: boolean;
  /** `--unpack` given explicitly; undefined means the default (unpack local archives). */
  unpack?: boolean;
}

export interface StopsignalInstruction extends Base {
  kind: "STOPSIGNAL";
  signal: string;
}

export interface HealthcheckOptions {
  /** Durations in nanoseconds, as in the image config; undefined when not given. */
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}

export type HealthcheckInstruction = Base & { kind: "HEALTHCHECK" } & (
    | { type: "NONE" }
    | { type: "CMD"; cmd: Command; options: HealthcheckOptions }
  );

export interface OnbuildInstruction extends Base {
  kind: "ONBUILD";
  /** The trigger text as stored in the image config (`RUN echo hi`). */
  expression: string;
  trigger: Instruction;
}

export interface MaintainerInstruction extends Base {
  kind: "MAINTAINER";
  maintainer: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | EnvInstruction
  | ArgInstruction
  | LabelInstruction
  | ExposeInstruction
  | VolumeInstruction
  | UserInstruction
  | WorkdirInstruction
  | CopyInstruction
  | AddInstruction
  | StopsignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction["kind"];

export interface Stage {
  index: number;
  /** From `FROM x AS name`, lower-cased. */
  name?: string;
  /** Unexpanded image of FROM. */
  base: string;
  /** Unexpanded `--platform`. */
  platform?: string;
  line: number;
  from: FromInstruction;
  /** The instructions after FROM. */
  instructions: Instruction[];
}

export interface Dockerfile {
  file: string;
  escape: string;
  /** Parser directives from the top of the file, keys lower-cased (`syntax`, `escape`, `check`). */
  directives: Record<string, string>;
  warnings: Warning[];
  /** ARG instructions before the first FROM. */
  metaArgs: ArgInstruction[];
  stages: Stage[];
}

// Variable expansion of a parsed instruction, applied to exactly the fields BuildKit expands.
// RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD and MAINTAINER are left alone: their variables are
// the shell's business at run time (or the child image's, for ONBUILD).
import { expand, expandWords, ExpansionError, type Lookup } from "../shell/mod.ts";
import { DockerfileError } from "./errors.ts";
import { mountDefaults } from "./mounts.ts";
import type { Instruction, KeyValue } from "./types.ts";

/**
 * Returns a copy of `instr` with its expandable words expanded against `lookup` (the stage's ENV and ARG
 * values at that point). Throws DockerfileError naming the instruction's line when a word is malformed or a
 * `${V?msg}` check fails.
 */
export function expandInstruction<T extends Instruction>(instr: T, lookup: Lookup, escape: string, file = "Dockerfile"): T {
  const word = (w: string) => expand(w, lookup, { escape });
  const opt = (w: string | undefined) => (w === undefined ? undefined : word(w));
  const pairs = (ps: KeyValue[]) => ps.map((p) => ({ key: word(p.key), value: word(p.value) }));
  try {
    return expandFields(instr, word, opt, pairs, lookup, escape) as T;
  } catch (e) {
    if (e instanceof ExpansionError || e instanceof EmptyVolume) {
      throw new DockerfileError(file, instr.line, e.message, instr.original);
    }
    throw e;
  }
}

class EmptyVolume extends Error {}

function expandFields(
  instr: Instruction,
  word: (w: string) => string,
  opt: (w: string | undefined) => string | undefined,
  pairs: (ps: KeyValue[]) => KeyValue[],
  lookup: Lookup,
  escape: string,
): Instruction {
  switch (instr.kind) {
    case "FROM":
      return { ...instr, image: word(instr.image), platform: opt(instr.platform) };
    case "RUN":
      return {
        ...instr,
        mounts: instr.mounts.map((m, i) =>
          mountDefaults(
            {
              ...m,
              target: opt(m.target),
              source: opt(m.source),
              from: opt(m.from),
              id: opt(m.id),
              sharing: opt(m.sharing),
              mode: opt(m.mode),
              uid: opt(m.uid),
              gid: opt(m.gid),
              size: opt(m.size),
              env: opt(m.env),
            },
            i,
          ),
        ),
      };
    case "ENV":
    case "LABEL":
      return { ...instr, pairs: pairs(instr.pairs) };
    case "ARG":
      return { ...instr, args: instr.args.map((a) => ({ name: word(a.name), default: opt(a.default) })) };
    case "EXPOSE":
      // A variable may hold several ports (`EXPOSE $PORTS`), so these are split after expansion.
      return { ...instr, ports: instr.ports.flatMap((p) => expandWords(p, lookup, { escape })) };
    case "VOLUME": {
      const volumes = instr.volumes.map(word);
      if (volumes.some((v) => v.trim() === "")) throw new EmptyVolume("VOLUME specified can not be an empty string");
      return { ...instr, volumes };
    }
    case "USER":
      return { ...instr, user: word(instr.user) };
    case "WORKDIR":
      return { ...instr, path: word(instr.path) };
    case "STOPSIGNAL":
      return { ...instr, signal: word(instr.signal) };
    case "COPY":
    case "ADD": {
      const common = {
        sources: instr.sources.map(word),
        dest: word(instr.dest),
        chown: opt(instr.chown),
        chmod: opt(instr.chmod),
        exclude: instr.exclude.map(word),
        // Heredoc bodies expand like a double-quoted word whose quotes are plain characters.
        heredocSources: instr.heredocSources.map((h) =>
          h.expand ? { ...h, content: expand(h.content, lookup, { skipQuotes: true }) } : h,
        ),
      };
      return instr.kind === "COPY"
        ? { ...instr, ...common, from: opt(instr.from) }
        : { ...instr, ...common, checksum: opt(instr.checksum) };
    }
    case "CMD":
    case "ENTRYPOINT":
    case "SHELL":
    case "HEALTHCHECK":
    case "ONBUILD":
    case "MAINTAINER":
      return instr;
  }
}

// Each config-only instruction's state change, without a build: Dockerfile lines are parsed, expanded against the
// state so far and executed one by one, as the stage loop does, with a step context that fails the test if a
// metadata step reaches for anything but the build's ARG values (no root, no sandbox, no context).
import { describe, expect, test } from "bun:test";
import { expandInstruction, INSTRUCTION_KINDS, parseDockerfile } from "../dockerfile/mod.ts";
import type { ImageConfig } from "../image/mod.ts";
import { execute, InstructionError, lookupFor, traits, type StageState, type StepContext, type StepResult } from "./mod.ts";
import { executeWorkdir } from "./workdir.ts";

const PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function stateOf(runtime: ImageConfig["config"] = {}, extra: Partial<StageState> = {}): StageState {
  return {
    config: { architecture: "amd64", os: "linux", config: { Env: [PATH], ...runtime }, rootfs: { type: "layers", diff_ids: [] }, history: [] },
    args: new Map(),
    ...extra,
  };
}

function metadataContext(buildArgs: Record<string, string> = {}, metaArgs = new Map<string, string | undefined>()): StepContext {
  const allowed: Record<string, unknown> = { buildArgs, metaArgs };
  return new Proxy({} as StepContext, {
    get(_, key) {
      if (typeof key === "string" && key in allowed) return allowed[key];
      throw new Error(`a metadata step read ctx.${String(key)}`);
    },
  });
}

/** Runs the lines of `text` as steps; returns every step's result (the last one's state is the stage's). */
/** Each step's result, and (with `snapshot`) a copy of each state taken right after its step ran. */
async function steps(text: string, state = stateOf(), ctx = metadataContext(), snapshot?: StageState[]): Promise<StepResult[]> {
  const df = parseDockerfile(`FROM scratch\n${text}\n`, { file: "Dockerfile" });
  const results: StepResult[] = [];
  for (const raw of df.stages[0].instructions) {
    const r = await execute(expandInstruction(raw, lookupFor(state), df.escape), state, ctx);
    results.push(r);
    snapshot?.push(structuredClone(r.state));
    state = r.state;
  }
  return results;
}

async function last(text: string, state?: StageState, ctx?: StepContext): Promise<StepResult> {
  const results = await steps(text, state, ctx);
  for (const r of results) expect(r.changes).toEqual({ kind: "none" });
  return results.at(-1)!;
}

const runtime = (r: StepResult) => r.state.config.config;

describe("config-only instructions change the config and nothing on disk", () => {
  test("ENV: replaces a variable where it stands, appends new ones; a later pair does not see an earlier one of the same line", async () => {
    const r = await last("ENV A=1\nENV B=$A C=x\nENV A=2 D=$A");
    expect(runtime(r).Env).toEqual([PATH, "A=2", "B=1", "C=x", "D=1"]);
    expect(r.createdBy).toBe("ENV A=2 D=1");
  });

  test("ARG: a --build-arg wins over the default, which wins over the meta ARG; ARGs stay out of Env; ENV wins over ARG", async () => {
    const ctx = metadataContext({ C: "cli" }, new Map([["A", "meta"], ["B", "meta"]]));
    const results = await steps("ARG A\nARG B=def C=def\nARG D\nENV B=env\nLABEL a=$A b=$B c=$C d=$D", stateOf(), ctx);
    const argStep = results[1];
    expect(argStep.changes).toEqual({ kind: "none" });
    expect(argStep.createdBy).toBe("ARG B=def C=def");
    const s = results.at(-1)!.state;
    expect([...s.args]).toEqual([["A", "meta"], ["B", "def"], ["C", "cli"], ["D", undefined]]);
    expect(s.declaredArgs).toEqual(["A", "B", "C", "D"]);
    expect(s.config.config.Env).toEqual([PATH, "B=env"]);
    expect(s.config.config.Labels).toEqual({ a: "meta", b: "env", c: "cli", d: "" });
  });

  test("LABEL: adds to the base's labels, a later value wins", async () => {
    const r = await last(`LABEL a=1 "b c"=2\nLABEL a=3`, stateOf({ Labels: { base: "x" } }));
    expect(runtime(r).Labels).toEqual({ base: "x", a: "3", "b c": "2" });
    expect(r.createdBy).toBe("LABEL a=3");
  });

  test("USER", async () => {
    const r = await last("USER app:staff");
    expect(runtime(r).User).toBe("app:staff");
    expect(r.createdBy).toBe("USER app:staff");
  });

  test("EXPOSE: ranges expanded, protocol lower-cased, tcp by default; bad ports are InstructionErrors", async () => {
    const r = await last("EXPOSE 80 53/UDP\nEXPOSE 8000-8002/tcp", stateOf({ ExposedPorts: { "22/tcp": {} } }));
    expect(Object.keys(runtime(r).ExposedPorts!).sort()).toEqual(["22/tcp", "53/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp"]);
    expect(r.createdBy).toBe("EXPOSE map[8000/tcp:{} 8001/tcp:{} 8002/tcp:{}]");
    for (const bad of ["70000", "80/xyz", "90-80", "http"]) await expect(steps(`EXPOSE ${bad}`)).rejects.toBeInstanceOf(InstructionError);
  });

  test("VOLUME: JSON and plain forms add to the base's volumes", async () => {
    const r = await last(`VOLUME /data /logs\nVOLUME ["/json"]`, stateOf({ Volumes: { "/base": {} } }));
    expect(Object.keys(runtime(r).Volumes!).sort()).toEqual(["/base", "/data", "/json", "/logs"]);
    expect(r.createdBy).toBe("VOLUME [/json]");
  });

  test("CMD and ENTRYPOINT: shell form wrapped in SHELL; ENTRYPOINT drops an inherited CMD but keeps this stage's", async () => {
    const base = stateOf({ Cmd: ["inherited"] });
    const shell = await last(`SHELL ["/bin/bash", "-ec"]\nCMD echo hi`, base);
    expect(runtime(shell).Shell).toEqual(["/bin/bash", "-ec"]);
    expect(runtime(shell).Cmd).toEqual(["/bin/bash", "-ec", "echo hi"]);
    expect(shell.createdBy).toBe('CMD ["/bin/bash" "-ec" "echo hi"]');

    const dropped = await last(`ENTRYPOINT ["/e", "x"]`, base);
    expect(runtime(dropped).Entrypoint).toEqual(["/e", "x"]);
    expect(runtime(dropped).Cmd).toBeNull();

    const kept = await last(`CMD ["c"]\nENTRYPOINT /e`, base);
    expect(runtime(kept).Cmd).toEqual(["c"]);
    expect(runtime(kept).Entrypoint).toEqual(["/bin/sh", "-c", "/e"]);
    expect(kept.createdBy).toBe('ENTRYPOINT ["/bin/sh" "-c" "/e"]');
  });

  test("SHELL with an empty list is refused when the Dockerfile is read, naming the line", async () => {
    await expect(steps("SHELL []")).rejects.toThrow("Dockerfile:2: SHELL requires at least one argument");
  });

  test("HEALTHCHECK: shell and exec forms with options, NONE", async () => {
    const shell = await last("HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/");
    expect(runtime(shell).Healthcheck).toEqual({ Test: ["CMD-SHELL", "curl -f http://localhost/"], Interval: 5e9, Retries: 3 });
    expect(shell.createdBy).toBe('HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/"] "5s" "0s" "0s" \'\\x03\'}');
    const exec = await last(`HEALTHCHECK --timeout=1m CMD ["check", "-q"]`);
    expect(runtime(exec).Healthcheck).toEqual({ Test: ["CMD", "check", "-q"], Timeout: 60e9 });
    const none = await last("HEALTHCHECK NONE", stateOf({ Healthcheck: { Test: ["CMD", "old"] } }));
    expect(runtime(none).Healthcheck).toEqual({ Test: ["NONE"] });
  });

  test("STOPSIGNAL: a name or a number; anything else is an InstructionError", async () => {
    expect(runtime(await last("STOPSIGNAL SIGTERM")).StopSignal).toBe("SIGTERM");
    expect(runtime(await last("STOPSIGNAL 9")).StopSignal).toBe("9");
    await expect(steps("STOPSIGNAL 9.5")).rejects.toBeInstanceOf(InstructionError);
  });

  test("ONBUILD: triggers stored after the base's, as written; no history entry", async () => {
    const r = await last("ONBUILD RUN echo $HOME\nONBUILD COPY . /app", stateOf({ OnBuild: ["RUN base"] }));
    expect(runtime(r).OnBuild).toEqual(["RUN base", "RUN echo $HOME", "COPY . /app"]);
    expect(r.createdBy).toBeUndefined();
  });

  test("MAINTAINER sets the author", async () => {
    const r = await last("MAINTAINER Jane Doe <jane@example.com>");
    expect(r.state.config.author).toBe("Jane Doe <jane@example.com>");
    expect(r.createdBy).toBe("MAINTAINER Jane Doe <jane@example.com>");
  });

  test("WORKDIR's config part: relative paths resolve against the previous WORKDIR, variables expand, an absolute path stays as written", async () => {
    let state = stateOf({ WorkingDir: "/base" });
    const df = parseDockerfile("FROM scratch\nENV D=/x\nWORKDIR a\nWORKDIR $D/y/\nWORKDIR z\nWORKDIR ../w/\n", { file: "Dockerfile" });
    const dirs: string[] = [];
    for (const raw of df.stages[0].instructions) {
      const instr = expandInstruction(raw, lookupFor(state), df.escape);
      // Without a step context WORKDIR changes only the config: the directory is made by the stage loop's root.
      const r = instr.kind === "WORKDIR" ? await executeWorkdir(instr, state, undefined) : await execute(instr, state, metadataContext());
      expect(r.changes).toEqual({ kind: "none" });
      state = r.state;
      if (instr.kind === "WORKDIR") dirs.push(state.config.config.WorkingDir!);
    }
    // BuildKit keeps an absolute WORKDIR as written, trailing slash included, and cleans a relative one joined to the
    // current WORKDIR (conformance cases workdir-trailing-slash, workdir-relative-trailing-slash).
    expect(dirs).toEqual(["/base/a", "/x/y/", "/x/y/z", "/x/y/w"]);
  });
});

describe("states", () => {
  const DOCKERFILE = `ARG V=1\nENV A=$V\nLABEL l=$A\nEXPOSE 80\nVOLUME /v\nONBUILD RUN x\nUSER u\nCMD c\nHEALTHCHECK NONE\nSTOPSIGNAL 15\nMAINTAINER m`;
  const base = () => stateOf({ Labels: { base: "1" }, ExposedPorts: { "1/tcp": {} }, Volumes: { "/b": {} }, OnBuild: ["RUN b"] });

  test("a state that is not linear is never changed: every step returns a new one", async () => {
    const state = base();
    const before = structuredClone(state);
    const snapshots: StageState[] = [];
    const results = await steps(DOCKERFILE, state, metadataContext(), snapshots);
    expect(state).toEqual(before);
    // Nor is any intermediate state changed by the steps after it (each compared with its copy from right after its step).
    expect(results.map((r) => r.state)).toEqual(snapshots);
  });

  test("a linear state (extended in place for speed) ends where a copied one does", async () => {
    const copied = (await steps(DOCKERFILE, base())).at(-1)!.state;
    const linear = (await steps(DOCKERFILE, { ...base(), linear: true })).at(-1)!.state;
    expect(linear.config).toEqual(copied.config);
    expect([...linear.args]).toEqual([...copied.args]);
  });

  test("traits: only RUN, COPY, ADD and WORKDIR need the root", () => {
    const needing = INSTRUCTION_KINDS.filter((k) => k !== "FROM" && traits[k as keyof typeof traits].needsRootfs);
    expect([...needing].sort()).toEqual(["ADD", "COPY", "RUN", "WORKDIR"]);
  });
});

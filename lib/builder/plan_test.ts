import { expect, test } from "bun:test";
import { parseDockerfile } from "../dockerfile/mod.ts";
import { hostPlatform } from "../image/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { planBuild } from "./plan.ts";

const plan = (text: string, target?: string) => {
  const df = parseDockerfile(text, { file: "Dockerfile" });
  const p = planBuild(df, { buildArgs: {}, platform: hostPlatform(), logger: silentLogger, ...(target ? { target } : {}) });
  return df.stages.filter((s) => p.order.includes(s.index)).map((s) => `${s.name ?? s.index}:${p.layersLeave(s) ? "out" : "internal"}`);
};

test("only the target and the stages it is FROM (transitively) have layers that leave the build", () => {
  const df = `FROM busybox AS a
RUN echo a
FROM a AS b
RUN echo b
FROM busybox AS c
RUN echo c
FROM c AS d
RUN echo d
FROM b AS final
COPY --from=d /d /d
`;
  // d feeds COPY --from only, and c only d: their layers are read back inside the build.
  expect(plan(df)).toEqual(["a:out", "b:out", "c:internal", "d:internal", "final:out"]);
  expect(plan(df, "d")).toEqual(["c:out", "d:out"]);
  // A FROM naming a stage by index, and ARG-expanded names, are followed as well.
  expect(plan("FROM busybox AS x\nFROM busybox AS y\nFROM 0\nCOPY --from=y / /\n")).toEqual(["x:out", "y:internal", "2:out"]);
  expect(plan("ARG S=y\nFROM busybox AS x\nFROM busybox AS y\nFROM ${S}\nCOPY --from=x / /\n")).toEqual(["x:internal", "y:out", "2:out"]);
});

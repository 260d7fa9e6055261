import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDockerfile } from "../dockerfile/mod.ts";
import { parsePlatform } from "../image/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { planBuild } from "./plan.ts";
import { checkForeignRuns, sharedStages } from "./platforms.ts";

const plans = (text: string, platforms = ["linux/amd64", "linux/arm64"]) => {
  const df = parseDockerfile(text, { file: "Dockerfile" });
  return { df, plans: platforms.map((p) => planBuild(df, { buildArgs: {}, platform: parsePlatform(p), logger: silentLogger })) };
};

test("only stages pinned to a platform, with nothing of the target in them or under them, are shared", () => {
  const { df, plans: ps } = plans([
    "FROM --platform=$BUILDPLATFORM busybox AS tools", // 0: shared
    "RUN make",
    "FROM tools AS more", // 1: FROM a shared stage, no TARGET*: shared
    "FROM --platform=$BUILDPLATFORM busybox AS cross", // 2: declares TARGETARCH: per platform
    "ARG TARGETARCH",
    "RUN GOARCH=$TARGETARCH make",
    "FROM --platform=$BUILDPLATFORM busybox AS fromimage", // 3: COPY --from an image (pulled per target): per platform
    "COPY --from=alpine /x /x",
    "FROM busybox-$TARGETARCH AS byarch", // 4: FROM differs per platform
    "FROM busybox", // 5: the target's platform
    "COPY --from=tools /t /t",
    "COPY --from=more /t /m",
    "COPY --from=cross /c /c",
    "COPY --from=fromimage /x /x",
    "COPY --from=byarch /y /y",
  ].join("\n"));
  expect([...sharedStages(df, ps)].sort()).toEqual([0, 1]);
  // One platform shares nothing: there is nothing to share with.
  expect(sharedStages(df, ps.slice(0, 1)).size).toBe(0);
});

test("a RUN for an architecture no binfmt handler claims fails before the build; shared and native stages need none", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-binfmt-"));
  try {
    writeFileSync(join(dir, "status"), "enabled\n");
    const text = "FROM --platform=$BUILDPLATFORM busybox AS tools\nRUN make\nFROM busybox\nRUN true\n";
    const { df, plans: [amd, riscv] } = plans(text, ["linux/amd64", "linux/riscv64"]);
    const shared = sharedStages(df, [amd, riscv]);
    checkForeignRuns(df, amd, parsePlatform("linux/amd64"), silentLogger, shared, dir);
    expect(() => checkForeignRuns(df, riscv, parsePlatform("linux/riscv64"), silentLogger, shared, dir))
      .toThrow(/^Dockerfile:4: RUN for platform linux\/riscv64 needs emulation of riscv64 .*tonistiigi\/binfmt --install riscv64/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

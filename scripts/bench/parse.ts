// Measures parseDockerfile on a generated 5,000-line Dockerfile. Target: well under 100 ms.
// Usage: bun scripts/bench/parse.ts [lines]
import { parseDockerfile } from "../../lib/dockerfile/mod.ts";

function generate(lines: number): string {
  const out = ["# syntax=docker/dockerfile:1", "ARG BASE=busybox", "FROM ${BASE} AS build"];
  const blocks = [
    ["RUN --mount=type=cache,target=/root/.cache apt-get update && \\", "    apt-get install -y curl ca-certificates && \\", "    rm -rf /var/lib/apt/lists/*"],
    ['ENV PATH=/usr/local/bin:$PATH LANG="C.UTF-8" HOME=/root'],
    ["COPY --chown=1000:1000 --chmod=0644 src/ lib/ /app/"],
    ['LABEL org.opencontainers.image.title="kiln bench" version=1.0'],
    ["COPY <<EOF /etc/config", "key=$HOME", "other=value", "EOF"],
    ['CMD ["/bin/app", "--serve"]'],
    ["WORKDIR /app/${NAME:-default}"],
    ["# a comment line"],
    ["RUN <<-SCRIPT sh", "\techo one", "\techo two", "\tSCRIPT"],
    ["EXPOSE 80 443/tcp"],
  ];
  let i = 0;
  while (out.length < lines) out.push(...blocks[i++ % blocks.length]);
  return out.join("\n") + "\n";
}

const lines = Number(process.argv[2] ?? 5000);
const text = generate(lines);
const c0 = performance.now();
parseDockerfile(text, { file: "Dockerfile" }); // first run: what a one-shot CLI build pays
const first = performance.now() - c0;
const runs = 20;
const times: number[] = [];
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const df = parseDockerfile(text, { file: "Dockerfile" });
  times.push(performance.now() - t0);
  if (df.stages[0].instructions.length === 0) throw new Error("bench Dockerfile parsed to nothing");
}
times.sort((a, b) => a - b);
const cold = (() => {
  const t0 = performance.now();
  parseDockerfile(generate(lines + 1), { file: "Dockerfile" });
  return performance.now() - t0;
})();
console.log(
  `parseDockerfile ${text.split("\n").length - 1} lines: median ${times[runs >> 1].toFixed(2)} ms, ` +
    `min ${times[0].toFixed(2)} ms, max ${times[runs - 1].toFixed(2)} ms (after warm-up); first run ${first.toFixed(2)} ms; new text ${cold.toFixed(2)} ms`,
);

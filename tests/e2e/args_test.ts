// ARG rules as BuildKit applies them, checked on real builds: meta ARGs, per-stage scope, --build-arg from the
// environment, automatic platform ARGs, ENV over ARG, proxy ARGs, the unused build-arg warning, --target errors.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { useBusyboxRegistry } from "../support/e2e.ts";
import { cleanupInspected, inspectOciLayout } from "../support/image-assert.ts";
import { makeContext, runKiln } from "../support/kiln.ts";
import { formatPlatform, hostPlatform } from "../../lib/image/mod.ts";

const fx = useBusyboxRegistry();

const DOCKERFILE = `ARG BASE=placeholder
ARG VERSION=1.0
FROM \${BASE} AS First
ARG VERSION
ARG ONLY_FIRST=first-value
RUN echo "v=$VERSION only=$ONLY_FIRST" > /first.txt

FROM \${BASE}
ARG TARGETARCH
ARG TARGETPLATFORM
ARG FROM_ENV
ENV OVERRIDE=env-wins
ARG OVERRIDE=arg-value
RUN echo "only=\${ONLY_FIRST:-unset} v=\${VERSION:-unset} arch=$TARGETARCH plat=$TARGETPLATFORM env=$FROM_ENV override=$OVERRIDE proxy=$HTTP_PROXY" > /second.txt
COPY --from=first /first.txt /first.txt
`;

async function build(extra: string[], env: Record<string, string> = {}) {
  const ctx = makeContext({ Dockerfile: DOCKERFILE });
  fx.keep(ctx);
  const out = fx.tmp("kiln-args-");
  const r = await runKiln([
    "-c", ctx, "--no-push", "--insecure-pull", "--oci-layout-path", join(out, "oci"), "--log-format", "text",
    "--build-arg", `BASE=${fx.base}`, ...extra,
  ], { env });
  return { ...r, layout: join(out, "oci") };
}

test("ARG scopes, sources and precedence follow BuildKit", async () => {
  const r = await build(
    ["--build-arg", "FROM_ENV", "--build-arg", "UNUSED=x", "--build-arg", "HTTP_PROXY=http://proxy.invalid:3128"],
    { FROM_ENV: "s3cr3t-from-env" },
  );
  expect(r.code).toBe(0);
  // ARG OVERRIDE after ENV OVERRIDE: the RUN sees the ARG's value, as Docker does (conformance case arg-redeclare-after-env).
  const img = await inspectOciLayout(r.layout, "latest");
  try {
    expect(img.files.get("/first.txt")?.content).toBe("v=1.0 only=first-value\n");
    const plat = hostPlatform();
    expect(img.files.get("/second.txt")?.content).toBe(
      `only=unset v=unset arch=${plat.architecture} plat=${formatPlatform(plat)} env=s3cr3t-from-env override=arg-value proxy=http://proxy.invalid:3128\n`,
    );
    const history = JSON.stringify(img.config.history);
    expect(history).not.toContain("proxy.invalid"); // proxy ARGs are passed to RUN but kept out of history
    expect(history).toContain("FROM_ENV=s3cr3t-from-env"); // declared ARGs are recorded, as BuildKit does
  } finally {
    await cleanupInspected(img);
  }
  expect(r.stderr).toContain("[Warning] One or more build-args [UNUSED] were not consumed");
  expect(r.stderr).not.toContain("s3cr3t-from-env"); // build-arg values never reach the log at info level
}, 60_000);

test("an unknown --target lists the stage names", async () => {
  const r = await build(["--target", "nope"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("--target nope");
  expect(r.stderr).toContain("stages: first");
});

test("--target builds only up to the named stage (case-insensitive)", async () => {
  const r = await build(["--target", "FIRST"]);
  expect(r.code).toBe(0);
  const img = await inspectOciLayout(r.layout, "latest");
  try {
    expect(img.files.get("/first.txt")?.content).toBe("v=1.0 only=first-value\n");
    expect(img.files.get("/second.txt")).toBeUndefined();
  } finally {
    await cleanupInspected(img);
  }
}, 60_000);

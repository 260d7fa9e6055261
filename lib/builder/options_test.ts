import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostPlatform } from "../image/mod.ts";
import { OPTION_DEFAULTS, resolveOptions, trustedCaFiles } from "./options.ts";

const selfCommand = ["kiln"];

test("defaults: kaniko's, filled in one place", () => {
  const o = resolveOptions({ selfCommand });
  expect(o).toMatchObject({
    context: "/workspace/", dockerfile: "Dockerfile", destinations: [], noPush: false, buildArgs: {}, labels: {},
    compression: "gzip", snapshotMode: "full", singleSnapshot: false, reproducible: false, imageFsExtractRetry: 0,
    skipPushPermissionCheck: false, mode: "isolated", network: "private", cleanup: false, secrets: {}, registry: {},
    ignorePaths: ["/var/run"], tempDir: tmpdir(),
  });
  expect(o.platform).toEqual(hostPlatform());
  expect(o.workDir).toBeUndefined();
  expect(o.compressionLevel).toBeUndefined();
  expect(OPTION_DEFAULTS).toMatchObject({ context: o.context, dockerfile: o.dockerfile, compression: o.compression, snapshotMode: o.snapshotMode });
});

test("a field given as undefined is not given; given values win", () => {
  const o = resolveOptions({ selfCommand, compression: undefined, context: undefined, snapshotMode: "time", ignoreVarRun: false, ignorePaths: ["/x"] });
  expect(o.compression).toBe("gzip");
  expect(o.context).toBe("/workspace/");
  expect(o.snapshotMode).toBe("time");
  expect(o.ignorePaths).toEqual(["/x"]);
  expect(resolveOptions({ selfCommand, ignorePaths: ["/var/run"] }).ignorePaths).toEqual(["/var/run"]);
});

test("config.json: registry.dockerConfigDir ($DOCKER_CONFIG), else the kaniko dir in place, else $HOME/.docker", () => {
  expect(resolveOptions({ selfCommand, homeDir: "/home/me" }).registry.dockerConfigDir).toBe("/home/me/.docker");
  expect(resolveOptions({ selfCommand }).registry.dockerConfigDir).toBeUndefined();
  expect(resolveOptions({ selfCommand, homeDir: "", registry: { dockerConfigDir: "" } }).registry).toEqual({});
  expect(resolveOptions({ selfCommand, mode: "in-place", registry: { dockerConfigDir: "" } }).registry.dockerConfigDir).toBe("/kaniko/.docker");
  const inPlace = resolveOptions({ selfCommand, mode: "in-place", homeDir: "/root" });
  expect(inPlace.workDir).toBe("/kaniko");
  expect(inPlace.registry.dockerConfigDir).toBe("/kaniko/.docker");
  expect(resolveOptions({ selfCommand, mode: "in-place", workDir: "/kd" }).registry.dockerConfigDir).toBe("/kd/.docker");
  expect(resolveOptions({ selfCommand, mode: "in-place", homeDir: "/root", registry: { dockerConfigDir: "/cfg" } }).registry.dockerConfigDir).toBe("/cfg");
  // The other registry fields pass through with the client's own names.
  expect(resolveOptions({ selfCommand, registry: { insecurePush: true, pullRetries: 2 } }).registry).toEqual({ insecurePush: true, pullRetries: 2 });
});

test("a relative Dockerfile in the caller's directory wins over the context's", () => {
  const d = mkdtempSync(join(tmpdir(), "kiln-options-"));
  try {
    writeFileSync(join(d, "Dockerfile"), "FROM scratch\n");
    expect(resolveOptions({ selfCommand, cwd: d }).dockerfile).toBe(join(d, "Dockerfile"));
    expect(resolveOptions({ selfCommand, cwd: d, dockerfile: "other/Dockerfile" }).dockerfile).toBe("other/Dockerfile");
    expect(resolveOptions({ selfCommand, dockerfile: "Dockerfile" }).dockerfile).toBe("Dockerfile");
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("extra CA files come from <kaniko dir>/ssl/certs in place, SSL_CERT_DIR and SSL_CERT_FILE", () => {
  const d = mkdtempSync(join(tmpdir(), "kiln-ca-"));
  try {
    mkdirSync(join(d, "kaniko/ssl/certs"), { recursive: true });
    mkdirSync(join(d, "more"));
    writeFileSync(join(d, "kaniko/ssl/certs/ca-certificates.crt"), "x");
    writeFileSync(join(d, "kaniko/ssl/certs/README"), "x");
    writeFileSync(join(d, "more/corp.pem"), "x");
    writeFileSync(join(d, "one.pem"), "x");
    const env = { sslCertDir: `${join(d, "more")}:/nonexistent`, sslCertFile: join(d, "one.pem") };
    expect(resolveOptions({ selfCommand, mode: "in-place", workDir: join(d, "kaniko"), ...env }).registry.caFiles).toEqual([
      join(d, "kaniko/ssl/certs/ca-certificates.crt"), join(d, "more/corp.pem"), join(d, "one.pem"),
    ]);
    expect(resolveOptions({ selfCommand, workDir: join(d, "kaniko"), ...env }).registry.caFiles).toEqual([join(d, "more/corp.pem"), join(d, "one.pem")]);
    expect(resolveOptions({ selfCommand }).registry.caFiles).toBeUndefined();
    expect(trustedCaFiles([], undefined)).toEqual([]);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

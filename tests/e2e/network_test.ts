// RUN's network in the isolated mode: by default a private namespace with outbound access (slirp4netns), which
// cannot reach the host's loopback services; --network=host (the build flag or RUN --network=host) keeps the host's
// network, and --network=none leaves only loopback. Real outbound traffic is not tested (only loopback servers may
// run here): BENCHMARKS.md measures an apt-get install through it. No wget -T: Debian 12's busybox segfaults on it,
// and a refused connection fails at once anyway.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { makeContext, runKiln } from "../support/kiln.ts";

let server: ReturnType<typeof Bun.serve>;
let ctx: string;

beforeAll(() => {
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("host-loopback-reached\n") });
  const url = `http://127.0.0.1:${server.port}/`;
  const probe = (tag: string) =>
    `echo ${tag} $(wget -q -O - ${url} 2>/dev/null || echo unreachable); ` +
    `echo ${tag}-ifaces $(ls /sys/class/net | sort | tr '\\n' ' '); ` +
    `echo ${tag}-route $(awk '$2 == "00000000" { print $1 }' /proc/net/route); ` +
    `echo ${tag}-dns $(awk '/^nameserver/ { print $2 }' /etc/resolv.conf)`;
  ctx = makeContext({
    Dockerfile: [
      "FROM scratch",
      "COPY busybox /bin/busybox",
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      "RUN mkdir /etc",
      `RUN ${probe("default")}`,
      `RUN --network=host ${probe("host")}`,
      `RUN --network=none ${probe("none")}`,
      "",
    ].join("\n"),
  });
  copyFileSync("/bin/busybox", join(ctx, "busybox"));
});

afterAll(() => {
  server.stop(true);
  rmSync(ctx, { recursive: true, force: true });
});

const line = (out: string, tag: string) => out.split("\n").find((l) => l === tag || l.startsWith(`${tag} `))?.slice(tag.length).trim();

test("default: a private network with a route out and the forwarder as DNS, but no way to the host's loopback", async () => {
  const r = await runKiln(["--context", ctx, "--no-push"]);
  expect(r.stderr).not.toContain("ERROR");
  expect(r.code).toBe(0);
  expect(line(r.stdout, "default")).toBe("unreachable");
  expect(line(r.stdout, "default-ifaces")).toBe("lo tap0");
  expect(line(r.stdout, "default-route")).toBe("tap0");
  expect(line(r.stdout, "default-dns")).toBe("10.0.2.3");
  // RUN --network=host: the host's network, loopback services included.
  expect(line(r.stdout, "host")).toBe("host-loopback-reached");
  expect(line(r.stdout, "host-dns")).not.toBe("10.0.2.3");
  // RUN --network=none: loopback only, no route.
  expect(line(r.stdout, "none")).toBe("unreachable");
  expect(line(r.stdout, "none-ifaces")).toBe("lo");
  expect(line(r.stdout, "none-route")).toBe("");
}, 60_000);

test("--network=host makes the host's network the default for every RUN", async () => {
  const r = await runKiln(["--context", ctx, "--no-push", "--network", "host"]);
  expect(r.code).toBe(0);
  expect(line(r.stdout, "default")).toBe("host-loopback-reached");
}, 60_000);

test("a bad --network value is a flag error", async () => {
  const r = await runKiln(["--context", ctx, "--no-push", "--network", "bridge"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('--network "bridge": use default, host or none');
});

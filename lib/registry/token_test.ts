import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../log/mod.ts";
import { startRegistry, type TestRegistry } from "../../tests/support/registry.ts";
import { RegistryClient, RegistryError } from "./mod.ts";
import { tinyImage, type TinyImage } from "../../tests/support/tiny-image.ts";

const amd64 = { os: "linux", architecture: "amd64" };

describe("bearer token registry", () => {
  let reg: TestRegistry;
  let img: TinyImage;
  let dir: string;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "token" });
    img = await tinyImage();
    dir = await mkdtemp(join(tmpdir(), "kiln-dockercfg-"));
  });
  afterAll(async () => {
    await reg?.stop();
    await img?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  async function client(name: string, entry: object): Promise<RegistryClient> {
    const d = join(dir, name);
    await Bun.write(join(d, "config.json"), JSON.stringify({ auths: { [reg.host]: entry } }));
    return new RegistryClient({ logger: silentLogger, insecureRegistries: [reg.host], dockerConfigDir: d });
  }

  test("push and pull fetch one token per scope and reuse it", async () => {
    const c = await client("basic", { username: reg.username, password: reg.password });
    reg.tokenRequests!.length = 0;
    const { digest } = await c.push(img.image, [`${reg.host}/tok/app:1`, `${reg.host}/tok/app:2`]);
    expect(reg.tokenRequests).toEqual([{ scopes: ["repository:tok/app:pull,push"], account: reg.username, method: "GET", granted: true }]);
    const pulled = await c.pull(`${reg.host}/tok/app:1`, amd64);
    expect(pulled.digest).toBe(digest);
    await new Response(await pulled.image.layers[0].open()).arrayBuffer();
    expect(reg.tokenRequests!.map((r) => r.scopes)).toEqual([["repository:tok/app:pull,push"], ["repository:tok/app:pull"]]);
  });

  test("a cross-repository mount asks for pull on the source repository too", async () => {
    const c = await client("mount", { auth: btoa(`${reg.username}:${reg.password}`) });
    const pulled = await c.pull(`${reg.host}/tok/app:1`, amd64);
    reg.tokenRequests!.length = 0;
    await c.push(pulled.image, [`${reg.host}/tok/copy:1`]);
    const scopes = reg.tokenRequests!.map((r) => r.scopes.sort().join(" "));
    expect(scopes).toContain("repository:tok/app:pull repository:tok/copy:pull,push");
  });

  test("an identitytoken is exchanged with the OAuth2 refresh-token POST", async () => {
    const c = await client("identity", { identitytoken: reg.password });
    reg.tokenRequests!.length = 0;
    const pulled = await c.pull(`${reg.host}/tok/app:1`, amd64);
    expect(pulled.image.layers).toHaveLength(2);
    expect(reg.tokenRequests![0]).toMatchObject({ method: "POST", granted: true, scopes: ["repository:tok/app:pull"] });
  });

  test("rejected credentials are reported with the token realm", async () => {
    const c = await client("wrong", { username: reg.username, password: "wrong" });
    const err = await c.pull(`${reg.host}/tok/app:1`, amd64).catch((e) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.status).toBe(401);
    expect(err.code).toBe("UNAUTHORIZED");
    expect(err.message).toContain("fetching a token from http://127.0.0.1:");
    expect(err.message).toContain(reg.host);
  });
});

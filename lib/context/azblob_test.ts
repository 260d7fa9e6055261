// fetchAzureBlob against azurite on loopback: the account of a *.blob.core.windows.net URL is mapped to azurite by
// the connection string's BlobEndpoint; the key comes from the connection string or AZURE_STORAGE_ACCESS_KEY.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { azureTarget, fetchAzureBlob, parseAzureBlobSpec } from "./azblob.ts";
import type { ContextFetchOptions } from "./source.ts";
import { AZURITE_KEY, startAzurite, type AzuriteServer } from "../../tests/support/azurite-server.ts";
import { contextFailure as failure, contextTarGz, listTarGz } from "../../tests/support/context-tar.ts";

const URL_OF = (path: string) => `https://devstoreaccount1.blob.core.windows.net/${path}`;
let az: AzuriteServer;
beforeAll(async () => {
  az = await startAzurite();
  const tgz = await contextTarGz({ Dockerfile: "FROM scratch\n", "c.txt": "sea" });
  await az.put("ctx", "context.tar.gz", tgz);
  await az.put("ctx", "deep/dir/ctx.tar.gz", tgz);
});
afterAll(() => az.stop());

const opts = (env: Record<string, string>): ContextFetchOptions => ({ env, git: {}, maxBytes: 1 << 30 });

describe("Azure Blob contexts", () => {
  test("URL parsing and the endpoint/key choice", () => {
    const p = parseAzureBlobSpec("https://acct.blob.core.windows.net/c/a/b.tar.gz");
    expect(p).toEqual({ account: "acct", suffix: "blob.core.windows.net", container: "c", blob: "a/b.tar.gz", sas: "" });
    expect(azureTarget("x", p, { AZURE_STORAGE_ACCESS_KEY: "k" })).toEqual({ url: "https://acct.blob.core.windows.net/c/a/b.tar.gz", endpoint: "https://acct.blob.core.windows.net", key: "k" });
    const cn = parseAzureBlobSpec("https://acct.blob.core.chinacloudapi.cn/c/b.tar.gz");
    expect(azureTarget("x", cn, { AZURE_STORAGE_ACCESS_KEY: "k" }).endpoint).toBe("https://acct.blob.core.chinacloudapi.cn");
    const sas = parseAzureBlobSpec("https://acct.blob.core.windows.net/c/b.tar.gz?sv=1&sig=abc");
    expect(azureTarget("x", sas, {})).toMatchObject({ url: "https://acct.blob.core.windows.net/c/b.tar.gz?sv=1&sig=abc", key: undefined });
    expect(() => azureTarget("x", p, {})).toThrow("set AZURE_STORAGE_ACCESS_KEY");
    expect(() => azureTarget("x", p, { AZURE_STORAGE_CONNECTION_STRING: "AccountName=other;AccountKey=k" })).toThrow(`for account "other"`);
  });

  test("connection string form: BlobEndpoint maps the account to azurite", async () => {
    for (const path of ["ctx/context.tar.gz", "ctx/deep/dir/ctx.tar.gz"]) {
      const src = await fetchAzureBlob(URL_OF(path), opts({ AZURE_STORAGE_CONNECTION_STRING: az.connectionString }));
      expect(src.describe).toBe(URL_OF(path));
      expect(await listTarGz(src.stream)).toEqual(["Dockerfile=FROM scratch", "c.txt=sea"]);
    }
  });

  test("AZURE_STORAGE_ACCESS_KEY (kaniko's) with a key-less connection string for the endpoint", async () => {
    const env = { AZURE_STORAGE_ACCESS_KEY: AZURITE_KEY, AZURE_STORAGE_CONNECTION_STRING: `BlobEndpoint=${az.blobEndpoint}` };
    expect(await listTarGz((await fetchAzureBlob(URL_OF("ctx/context.tar.gz"), opts(env))).stream)).toContain("c.txt=sea");
  });

  test("missing container, missing blob, a wrong key, an unreachable endpoint", async () => {
    const env = { AZURE_STORAGE_CONNECTION_STRING: az.connectionString };
    expect(await failure(fetchAzureBlob(URL_OF("nope/context.tar.gz"), opts(env)))).toContain(`container "nope" does not exist`);
    expect(await failure(fetchAzureBlob(URL_OF("ctx/missing.tar.gz"), opts(env)))).toContain(`no blob "missing.tar.gz" in container "ctx"`);
    const wrongKey = { AZURE_STORAGE_ACCESS_KEY: Buffer.from("not the key").toString("base64"), AZURE_STORAGE_CONNECTION_STRING: `BlobEndpoint=${az.blobEndpoint}` };
    expect(await failure(fetchAzureBlob(URL_OF("ctx/context.tar.gz"), opts(wrongKey)))).toMatch(/access denied \(\w+\) to ctx\/context.tar.gz: check AZURE_STORAGE_ACCESS_KEY/);
    const dead = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const endpoint = `http://127.0.0.1:${dead.port}/devstoreaccount1`;
    dead.stop(true);
    const unreachable = { AZURE_STORAGE_ACCESS_KEY: AZURITE_KEY, AZURE_STORAGE_CONNECTION_STRING: `BlobEndpoint=${endpoint}` };
    expect(await failure(fetchAzureBlob(URL_OF("ctx/context.tar.gz"), opts(unreachable)))).toContain(`cannot reach ${endpoint}`);
  });
});

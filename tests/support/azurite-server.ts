// Azure Blob for tests: azurite's blob service (npm devDependency) as a child process on 127.0.0.1, telemetry off,
// data in a temp dir. Its well-known development account is the one the tests address.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "./kiln.ts";

export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="; // azurite's published key

export interface AzuriteServer {
  /** http://127.0.0.1:PORT/devstoreaccount1: the BlobEndpoint that maps the account to azurite */
  blobEndpoint: string;
  /** A full connection string for the development account. */
  connectionString: string;
  put(container: string, blob: string, body: Uint8Array): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().once("error", reject).listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function startAzurite(): Promise<AzuriteServer> {
  const dir = mkdtempSync(join(tmpdir(), "kiln-azurite-"));
  const port = await freePort();
  const proc = Bun.spawn([process.execPath, join(REPO, "node_modules/azurite/dist/src/blob/main.js"),
    "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", dir, "--silent", "--skipApiVersionCheck", "--disableTelemetry"],
  { stdout: "pipe", stderr: "pipe" });
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  for (let i = 0; ; i++) {
    try {
      await fetch(`${blobEndpoint}?comp=list`);
      break;
    } catch {
      if (i > 100 || proc.exitCode !== null) {
        proc.kill();
        throw new Error(`azurite did not start: ${await new Response(proc.stderr).text()}`);
      }
      await Bun.sleep(100);
    }
  }
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`;
  const az = await import("@azure/storage-blob");
  const service = az.BlobServiceClient.fromConnectionString(connectionString);
  return {
    blobEndpoint,
    connectionString,
    async put(container, blob, body) {
      const c = service.getContainerClient(container);
      await c.createIfNotExists();
      await c.getBlockBlobClient(blob).uploadData(body);
    },
    async stop() {
      proc.kill();
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

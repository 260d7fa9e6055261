// Looks at an image with tools that share no code with kiln (skopeo fetches and converts,
// umoci unpacks), so a test that passes here proves the image is right for other readers too,
// not just for kiln's own parser.
import { createReadStream } from "node:fs";
import { lstat, mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tar from "tar-stream";

export type FileType = "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo" | "socket";

export interface FileEntry {
  /** Absolute inside the image: "/etc/passwd". */
  path: string;
  /** "hardlink" marks every later path of an inode already seen earlier in a sorted, depth-first walk. */
  type: FileType;
  /** Permission bits including setuid/setgid/sticky, e.g. 0o755 or 0o1777. */
  mode: number;
  uid: number;
  gid: number;
  /** Whole seconds since the epoch, as the layer tar recorded them. */
  mtime: number;
  /** Regular files and hardlinks. */
  size?: number;
  /** Regular files and hardlinks up to 64 KiB that are valid UTF-8 without NUL bytes. */
  content?: string;
  /** Hex SHA-256 of the bytes of regular files and hardlinks. */
  sha256?: string;
  /** Symlink: its target as stored. Hardlink: the path first seen for the inode. */
  linkTarget?: string;
  /** Extended attributes read with getfattr (attr package): name -> value as hex, e.g. "0x626c7565". */
  xattrs?: Record<string, string>;
  /** Character and block devices. */
  devMajor?: number;
  devMinor?: number;
}

export interface InspectedImage {
  /** The image manifest (for a multi-platform reference: the one for this host's platform). */
  manifest: any;
  /** docker-archive only: the image's entry in the archive's manifest.json. */
  archiveManifest?: any;
  /** The index or manifest list the reference named, when it named one. */
  index?: any;
  config: any;
  configDigest: string;
  manifestDigest: string;
  /** The flattened rootfs as umoci unpacks it, keyed by absolute path ("/" itself left out). */
  files: Map<string, FileEntry>;
  layers: number;
  rootfsDir: string;
  /** Temp dir holding the copy and the bundle; removed by cleanupInspected. */
  workDir: string;
}

export interface RegistryAccess {
  /** Verify TLS certificates. Default false: skopeo then tries HTTPS unverified and falls back to HTTP. */
  tlsVerify?: boolean;
  /** "user:password" */
  creds?: string;
  /** Directory with the CA as *.crt (skopeo's --cert-dir). Implies tlsVerify unless it is given. */
  certDir?: string;
}

/** An external command failed; the message names the command line and carries its stderr. */
export class ToolError extends Error {
  constructor(readonly command: string[], readonly exitCode: number, readonly stderr: string) {
    super(`command failed (exit ${exitCode}): ${command.join(" ")}\n${stderr.trim()}`);
    this.name = "ToolError";
  }
}

/** The image broke a rule other readers rely on (a digest that does not match its bytes, a missing tag). */
export class ImageCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageCheckError";
  }
}

/** Runs a tool to completion and returns its stdout; throws ToolError on a non-zero exit. */
export async function runTool(cmd: string[], opts: { cwd?: string } = {}): Promise<string> {
  const bytes = await runToolBytes(cmd, opts);
  return new TextDecoder().decode(bytes);
}

async function runToolBytes(cmd: string[], opts: { cwd?: string } = {}): Promise<Uint8Array> {
  const p = Bun.spawn(cmd, { cwd: opts.cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([
    p.exited,
    new Response(p.stdout).bytes(),
    new Response(p.stderr).text(),
  ]);
  if (code !== 0) throw new ToolError(cmd, code, err);
  return out;
}

function sha256Hex(bytes: Uint8Array | string): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

const INDEX_TYPES = new Set([
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
]);

function isIndex(doc: any, mediaType?: string): boolean {
  return INDEX_TYPES.has(doc?.mediaType ?? mediaType ?? "") || (doc?.mediaType === undefined && Array.isArray(doc?.manifests));
}

const GOARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

/** The index entry skopeo would pick on this host: linux and this machine's architecture, else the only entry. */
function pickPlatform(index: any, what: string): any {
  const arch = GOARCH[process.arch] ?? process.arch;
  const entries: any[] = index.manifests ?? [];
  const hit = entries.find((m) => m.platform?.os === "linux" && m.platform?.architecture === arch) ?? (entries.length === 1 ? entries[0] : undefined);
  if (!hit) throw new ImageCheckError(`${what}: index has no manifest for linux/${arch} (has ${entries.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(", ") || "none"})`);
  return hit;
}

/** skopeo's flags for reaching a registry as `access` says, for the source of a copy with prefix "src-". */
export function registryFlags(access: RegistryAccess, prefix: "" | "src-"): string[] {
  const tlsVerify = access.tlsVerify ?? access.certDir !== undefined;
  const flags = [`--${prefix}tls-verify=${tlsVerify}`];
  if (access.creds) flags.push(`--${prefix}creds`, access.creds);
  if (access.certDir) flags.push(`--${prefix}cert-dir`, access.certDir);
  return flags;
}

/** "host/repo:tag" or "host/repo@sha256:..." -> "host/repo" (a ":" before the last "/" is a port). */
function repositoryOf(ref: string): string {
  const at = ref.indexOf("@");
  if (at >= 0) return ref.slice(0, at);
  const colon = ref.lastIndexOf(":");
  return colon > ref.lastIndexOf("/") ? ref.slice(0, colon) : ref;
}

/**
 * Pulls `ref` with skopeo (manifest and config as the registry serves them, byte for byte)
 * and unpacks it with umoci.
 */
export async function inspectRegistryImage(ref: string, opts: RegistryAccess = {}): Promise<InspectedImage> {
  const inspectFlags = registryFlags(opts, "");
  const raw = await runToolBytes(["skopeo", "inspect", "--raw", ...inspectFlags, `docker://${ref}`]);
  let manifestBytes = raw;
  let index: any;
  const top = JSON.parse(new TextDecoder().decode(raw));
  if (isIndex(top)) {
    index = top;
    const entry = pickPlatform(top, ref);
    manifestBytes = await runToolBytes(["skopeo", "inspect", "--raw", ...inspectFlags, `docker://${repositoryOf(ref)}@${entry.digest}`]);
  }
  const manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
  const configBytes = await runToolBytes(["skopeo", "inspect", "--config", "--raw", ...inspectFlags, `docker://${ref}`]);
  const configDigest = checkConfig(manifest, configBytes, ref);

  const workDir = await mkdtemp(join(tmpdir(), "kiln-inspect-"));
  try {
    // The copy may rewrite Docker media types to OCI ones; only the unpacked tree is taken from it.
    await runTool(["skopeo", "copy", "-q", ...registryFlags(opts, "src-"), `docker://${ref}`, `oci:${join(workDir, "layout")}:img`]);
    const rootfsDir = await unpack(join(workDir, "layout"), "img", workDir);
    return {
      manifest, index, config: JSON.parse(new TextDecoder().decode(configBytes)), configDigest,
      manifestDigest: `sha256:${sha256Hex(manifestBytes)}`,
      files: await walkRootfs(rootfsDir), layers: manifest.layers?.length ?? 0, rootfsDir, workDir,
    };
  } catch (e) {
    await rm(workDir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Unpacks the image tagged `tag` in an OCI layout (default: the only image in it). When the
 * entry has no ref.name or names an index, skopeo first copies the host platform's image to a
 * tagged temp layout, because umoci unpacks only tagged manifests.
 */
export async function inspectOciLayout(dir: string, tag?: string): Promise<InspectedImage> {
  const index = await readJson(join(dir, "index.json"), dir);
  const entries: any[] = index.manifests ?? [];
  const REF = "org.opencontainers.image.ref.name";
  const entry = tag !== undefined ? entries.find((m) => m.annotations?.[REF] === tag) : entries.length === 1 ? entries[0] : undefined;
  if (!entry) {
    const tags = entries.map((m) => m.annotations?.[REF]).filter(Boolean);
    throw new ImageCheckError(tag !== undefined
      ? `OCI layout ${dir} has no image tagged "${tag}" (tags: ${tags.join(", ") || "none"})`
      : `OCI layout ${dir} holds ${entries.length} images; pass the tag to inspect (tags: ${tags.join(", ") || "none"})`);
  }

  const blob = (digest: string) => readBlob(dir, digest);
  let nestedIndex: any;
  let manifestDigest: string = entry.digest;
  let manifestBytes = await blob(manifestDigest);
  let manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
  if (isIndex(manifest, entry.mediaType)) {
    nestedIndex = manifest;
    manifestDigest = pickPlatform(manifest, dir).digest;
    manifestBytes = await blob(manifestDigest);
    manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
  }
  const configBytes = await blob(manifest.config?.digest);
  const configDigest = checkConfig(manifest, configBytes, dir);

  const workDir = await mkdtemp(join(tmpdir(), "kiln-inspect-"));
  try {
    let source = dir, sourceTag: string = entry.annotations?.[REF];
    if (sourceTag === undefined || nestedIndex) {
      const from = sourceTag === undefined ? `oci:${dir}` : `oci:${dir}:${sourceTag}`;
      source = join(workDir, "layout");
      sourceTag = "img";
      await runTool(["skopeo", "copy", "-q", from, `oci:${source}:img`]);
    }
    const rootfsDir = await unpack(source, sourceTag, workDir);
    return {
      manifest, index: nestedIndex, config: JSON.parse(new TextDecoder().decode(configBytes)), configDigest, manifestDigest,
      files: await walkRootfs(rootfsDir), layers: manifest.layers?.length ?? 0, rootfsDir, workDir,
    };
  } catch (e) {
    await rm(workDir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Reads a `docker save`-style tarball (its first image when it holds several): the tree comes
 * from a skopeo copy to OCI, config and configDigest from the archive's own bytes (skopeo may
 * re-serialize the config while converting). A docker archive stores no manifest, so `manifest`
 * and `manifestDigest` are those of skopeo's OCI copy and `archiveManifest` is the manifest.json entry.
 */
export async function inspectDockerArchive(tarPath: string): Promise<InspectedImage> {
  const jsonFiles = await readArchiveJson(tarPath);
  const entries = parseJsonFile(jsonFiles, "manifest.json", tarPath);
  const archiveManifest = Array.isArray(entries) ? entries[0] : undefined;
  if (!archiveManifest?.Config) throw new ImageCheckError(`docker archive ${tarPath}: manifest.json lists no image`);
  const configBytes = jsonFiles.get(normalizeTarName(archiveManifest.Config));
  if (!configBytes) throw new ImageCheckError(`docker archive ${tarPath}: config ${archiveManifest.Config} named in manifest.json is missing`);
  const named = /^([0-9a-f]{64})\.json$/.exec(normalizeTarName(archiveManifest.Config));
  const configDigest = `sha256:${sha256Hex(configBytes)}`;
  if (named && named[1] !== configDigest.slice(7)) {
    throw new ImageCheckError(`docker archive ${tarPath}: config ${archiveManifest.Config} hashes to ${configDigest}`);
  }

  const copyDir = await mkdtemp(join(tmpdir(), "kiln-archive-"));
  try {
    await runTool(["skopeo", "copy", "-q", `docker-archive:${tarPath}:@0`, `oci:${copyDir}:img`]);
    const img = await inspectOciLayout(copyDir, "img");
    return { ...img, archiveManifest, config: JSON.parse(new TextDecoder().decode(configBytes)), configDigest };
  } finally {
    await rm(copyDir, { recursive: true, force: true });
  }
}

function normalizeTarName(name: string): string {
  return name.replace(/^(\.\/)+/, "");
}

function parseJsonFile(files: Map<string, Uint8Array>, name: string, tarPath: string): any {
  const bytes = files.get(name);
  if (!bytes) throw new ImageCheckError(`docker archive ${tarPath}: no ${name}`);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ImageCheckError(`docker archive ${tarPath}: ${name} is not JSON: ${(e as Error).message}`);
  }
}

/** The archive's top-level *.json members (manifest.json and configs), read in one pass. */
async function readArchiveJson(tarPath: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const name = normalizeTarName(entry.header.name);
      if (entry.header.type === "file" && !name.includes("/") && name.endsWith(".json")) {
        const chunks: Uint8Array[] = [];
        for await (const chunk of entry) chunks.push(chunk as Uint8Array);
        files.set(name, new Uint8Array(Buffer.concat(chunks)));
      } else {
        entry.resume();
      }
    }
  })();
  const source = createReadStream(tarPath);
  source.on("error", (e) => extract.destroy(e));
  source.pipe(extract);
  try {
    await done;
  } catch (e) {
    throw new ImageCheckError(`docker archive ${tarPath}: cannot read: ${(e as Error).message}`);
  }
  return files;
}

export async function cleanupInspected(img: InspectedImage): Promise<void> {
  await rm(img.workDir, { recursive: true, force: true });
}

async function readJson(path: string, what: string): Promise<any> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new ImageCheckError(`${what}: cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ImageCheckError(`${what}: ${path} is not JSON: ${(e as Error).message}`);
  }
}

/** Reads a blob and checks that its bytes hash to its name. */
async function readBlob(layout: string, digest: string): Promise<Uint8Array> {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest ?? "");
  if (!m) throw new ImageCheckError(`OCI layout ${layout}: unsupported or malformed digest "${digest}"`);
  const path = join(layout, "blobs", "sha256", m[1]);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new ImageCheckError(`OCI layout ${layout}: blob ${digest} missing: ${(e as Error).message}`);
  }
  const actual = sha256Hex(bytes);
  if (actual !== m[1]) throw new ImageCheckError(`OCI layout ${layout}: blob ${digest} has content sha256:${actual}`);
  return bytes;
}

function checkConfig(manifest: any, configBytes: Uint8Array, what: string): string {
  const expected = manifest.config?.digest;
  const actual = `sha256:${sha256Hex(configBytes)}`;
  if (expected !== actual) throw new ImageCheckError(`${what}: manifest names config ${expected} but its bytes hash to ${actual}`);
  return actual;
}

/** umoci keeps real owners only as root; otherwise it must run rootless (owners then read as ours). */
async function unpack(layout: string, tag: string, workDir: string): Promise<string> {
  const bundle = join(workDir, "bundle");
  const rootless = process.getuid?.() !== 0;
  await runTool(["umoci", "unpack", ...(rootless ? ["--rootless"] : []), "--image", `${layout}:${tag}`, bundle]);
  return join(bundle, "rootfs");
}

const TEXT_LIMIT = 64 * 1024;

function fileType(st: import("node:fs").Stats): FileType {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  if (st.isFIFO()) return "fifo";
  return "socket";
}

async function hashFile(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

/** Linux dev_t split (glibc's gnu_dev_major/minor); plain arithmetic because the value can pass 2^32. */
function splitDev(rdev: number): { devMajor: number; devMinor: number } {
  const high = Math.floor(rdev / 2 ** 32);
  const low = rdev >>> 0;
  return {
    devMajor: ((low >>> 8) & 0xfff) | ((high & ~0xfff) >>> 0),
    devMinor: (low & 0xff) | ((low >>> 12) & ~0xff) >>> 0,
  };
}

/** lstat walk of the whole tree, sorted by name per directory so "hardlink" marking is stable. */
export async function walkRootfs(rootfsDir: string): Promise<Map<string, FileEntry>> {
  const files = new Map<string, FileEntry>();
  const inodes = new Map<string, string>();
  const utf8 = new TextDecoder("utf-8", { fatal: true });

  async function visit(hostPath: string, imagePath: string): Promise<void> {
    const st = await lstat(hostPath);
    let type = fileType(st);
    const entry: FileEntry = { path: imagePath, type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
    if (type === "file") {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? inodes.get(key) : undefined;
      if (first !== undefined) {
        entry.type = type = "hardlink";
        entry.linkTarget = first;
      } else if (st.nlink > 1) {
        inodes.set(key, imagePath);
      }
      entry.size = st.size;
      if (st.size > TEXT_LIMIT) {
        entry.sha256 = await hashFile(hostPath);
      } else {
        const bytes = new Uint8Array(await readFile(hostPath));
        entry.sha256 = sha256Hex(bytes);
        if (!bytes.includes(0)) {
          try {
            entry.content = utf8.decode(bytes);
          } catch {
            // binary: no content field
          }
        }
      }
    } else if (type === "symlink") {
      entry.linkTarget = await readlink(hostPath);
    } else if (type === "char" || type === "block") {
      Object.assign(entry, splitDev(st.rdev));
    }
    files.set(imagePath, entry);
    if (type === "dir") await visitChildren(hostPath, imagePath);
  }

  async function visitChildren(hostDir: string, imageDir: string): Promise<void> {
    const names = (await readdir(hostDir)).sort();
    for (const name of names) {
      await visit(join(hostDir, name), imageDir === "/" ? `/${name}` : `${imageDir}/${name}`);
    }
  }

  await visitChildren(rootfsDir, "/");
  for (const [path, attrs] of await readXattrs(rootfsDir)) {
    const entry = files.get(path);
    if (entry) entry.xattrs = attrs;
  }
  return files;
}

/**
 * Every extended attribute below `rootfsDir`, read by one `getfattr` run (no symlink is followed), keyed by the
 * path inside the image. getfattr exits 1 when only some files have no attributes, so its output is what counts.
 */
async function readXattrs(rootfsDir: string): Promise<Map<string, Record<string, string>>> {
  const p = Bun.spawn(["getfattr", "-h", "-R", "-P", "-d", "-m", "-", "-e", "hex", "--absolute-names", rootfsDir], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0 && out === "" && err.trim() !== "") throw new ToolError(["getfattr", "-R", rootfsDir], code, err);
  const result = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const line of out.split("\n")) {
    if (line.startsWith("# file: ")) {
      const host = line.slice(8);
      current = {};
      result.set(host === rootfsDir ? "/" : host.slice(rootfsDir.length), current);
    } else if (current && line.includes("=")) {
      const i = line.indexOf("=");
      current[line.slice(0, i)] = line.slice(i + 1);
    }
  }
  return result;
}

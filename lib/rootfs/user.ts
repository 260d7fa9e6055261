// USER resolution in the build root's own /etc/passwd and /etc/group (never the host's),
// with runc's rules: supplementary groups only when no group is given explicitly.
import { readFileSync } from "node:fs";
import { UserLookupError } from "./errors.ts";
import { hostPath, resolveInRoot } from "./paths.ts";

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary group ids (groups listing the user by name), not including gid. */
  groups: number[];
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

// Files are read through in-root resolution, so a planted symlink cannot point at the host's.
function readRootFile(rootDir: string, p: string): string {
  try {
    return readFileSync(hostPath(rootDir, resolveInRoot(rootDir, p, true)), "utf8");
  } catch {
    return "";
  }
}

function rows(text: string): string[][] {
  return text.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#")).map((l) => l.split(":"));
}

const isId = (s: string) => /^\d+$/.test(s);

function parsePasswd(text: string): PasswdEntry[] {
  return rows(text)
    .filter((f) => f.length >= 4 && isId(f[2]) && isId(f[3]))
    .map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? "" }));
}

function parseGroup(text: string): GroupEntry[] {
  return rows(text)
    .filter((f) => f.length >= 3 && isId(f[2]))
    .map((f) => ({ name: f[0], gid: Number(f[2]), members: (f[3] ?? "").split(",").map((m) => m.trim()).filter(Boolean) }));
}

/** user[:group] -> ids. Numeric ids need not exist; names must. An empty user means root. */
export async function resolveUser(rootDir: string, spec: string): Promise<ResolvedUser> {
  const colon = spec.indexOf(":");
  const userPart = (colon < 0 ? spec : spec.slice(0, colon)) || "0";
  const groupPart = colon < 0 ? undefined : spec.slice(colon + 1);
  const passwd = parsePasswd(readRootFile(rootDir, "/etc/passwd"));
  const found = isId(userPart) ? passwd.find((p) => p.uid === Number(userPart)) : passwd.find((p) => p.name === userPart);
  if (!found && !isId(userPart)) throw new UserLookupError(spec, `no user "${userPart}" in the image's /etc/passwd`);
  const uid = found ? found.uid : Number(userPart);
  const home = found?.home || (uid === 0 ? "/root" : "/");
  const groups = parseGroup(readRootFile(rootDir, "/etc/group"));

  if (groupPart !== undefined && groupPart !== "") {
    if (isId(groupPart)) return { uid, gid: Number(groupPart), groups: [], home };
    const g = groups.find((x) => x.name === groupPart);
    if (!g) throw new UserLookupError(spec, `no group "${groupPart}" in the image's /etc/group`);
    return { uid, gid: g.gid, groups: [], home };
  }
  const gid = found ? found.gid : 0;
  const name = found?.name;
  const supplementary = name === undefined ? [] : groups.filter((g) => g.members.includes(name) && g.gid !== gid).map((g) => g.gid);
  return { uid, gid, groups: [...new Set(supplementary)], home };
}

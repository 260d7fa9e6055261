// Which build mode a run gets. In-place (kaniko's model) rewrites "/", so it is the default only inside kiln's
// executor image, and even there only when this looks like a container; everywhere else it takes --force.
// `/.dockerenv` alone never counts: development VMs of this project carry one and are not containers.
import { existsSync, readFileSync, realpathSync } from "node:fs";

export class ModeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModeError";
  }
}

/** What the decision looks at; the CLI passes the real process and files, tests pass made-up ones. */
export interface Surroundings {
  execPath: string;
  env: Record<string, string | undefined>;
  /** File text or undefined when unreadable. */
  readFile: (path: string) => string | undefined;
  exists: (path: string) => boolean;
}

export function realSurroundings(env: Record<string, string | undefined>): Surroundings {
  let execPath = process.execPath;
  try { execPath = realpathSync(execPath); } catch { /* keep as is */ }
  return {
    execPath, env,
    readFile: (p) => { try { return readFileSync(p, "utf8"); } catch { return undefined; } },
    exists: existsSync,
  };
}

/** The executor image runs kiln as /kaniko/executor (or /kaniko/warmer). */
export function isExecutorImage(s: Surroundings): boolean {
  return s.execPath === "/kaniko/executor" || s.execPath === "/kaniko/warmer";
}

/** Why this looks like a container, or undefined when nothing says so. */
export function containerEvidence(s: Surroundings): string | undefined {
  if (s.env.container) return `container=${s.env.container}`;
  if (s.exists("/run/.containerenv")) return "/run/.containerenv";
  if (s.env.KUBERNETES_SERVICE_HOST) return "KUBERNETES_SERVICE_HOST";
  const cgroup = s.readFile("/proc/1/cgroup") ?? "";
  const runtime = /\/(docker|kubepods|libpod|lxc|crio|containerd)[-/.]/.exec(cgroup);
  if (runtime) return `/proc/1/cgroup (${runtime[1]})`;
  // A container's "/" is an overlay, or a directory bind-mounted (pivot_root/chroot) as the root.
  const rootMount = (s.readFile("/proc/self/mountinfo") ?? "").split("\n").map((l) => l.split(" ")).filter((f) => f[4] === "/").at(-1);
  if (rootMount) {
    const fstype = rootMount[rootMount.indexOf("-") + 1];
    if (/^(overlay|aufs|fuse-overlayfs)$/.test(fstype ?? "")) return `/ is ${fstype}`;
    if (rootMount[3] !== "/") return `/ is a bind mount of ${rootMount[3]}`;
  }
  return undefined;
}

export function chooseMode(o: { isolation?: "isolated" | "in-place"; force: boolean }, s: Surroundings): "isolated" | "in-place" {
  const executorImage = isExecutorImage(s);
  const mode = o.isolation ?? (executorImage ? "in-place" : "isolated");
  if (mode === "isolated" || o.force) return mode;
  if (!executorImage) {
    throw new ModeError(
      "in-place builds rewrite / and run only inside kiln's executor image (/kaniko/executor); " +
      "drop --isolation=in-place to build in the isolated mode, or pass --force if this is a disposable container",
    );
  }
  if (!containerEvidence(s)) {
    throw new ModeError(
      "kiln should only be run inside of a container: in-place builds rewrite /, and nothing here says this is one " +
      "(no container runtime marker, / is neither an overlay nor a bind mount); run it in a container, " +
      "or pass --force if you are sure (gVisor and other sandboxes hide these markers)",
    );
  }
  return mode;
}

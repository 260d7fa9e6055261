// Keeps ARCHITECTURE.md's dependency rules: which lib/ folder may import which, only through mod.ts, no folder
// re-exporting another's code as its own (which would let a third folder reach around the rules), the top-level
// mod.ts only through the folders' mod.ts, and cli/ only through the top-level mod.ts.
// Run directly, or through tests/architecture_test.ts.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";

const ALLOWED: Record<string, string[]> = {
  log: [],
  shell: [],
  image: [],
  layer: [],
  dockerfile: ["shell"],
  registry: ["image"],
  rootfs: ["image", "layer"],
  // shell: the `[...]` class rules its globs share with ${VAR#pattern}; rootfs: the one in-root path resolver
  context: ["layer", "shell", "rootfs"],
  sandbox: ["rootfs"],
  instructions: ["dockerfile", "shell", "rootfs", "sandbox", "context", "image"],
  cache: ["image", "registry", "context", "layer"],
  builder: ["log", "shell", "dockerfile", "image", "layer", "registry", "rootfs", "sandbox", "context", "instructions", "cache"],
};

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (p.endsWith(".ts") && !p.endsWith("_test.ts")) out.push(p);
  }
  return out;
}

export function checkDeps(repo: string): string[] {
  const problems: string[] = [];
  const importRe = /^\s*(import|export)\b[^'"]*?from\s+["']([^"']+)["']/gm;
  const check = (file: string, ok: (target: string, reexport: boolean) => string | undefined) => {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(importRe)) {
      const spec = m[2];
      if (!spec.startsWith(".")) continue;
      const why = ok(relative(repo, resolve(dirname(file), spec)), m[1] === "export");
      if (why) problems.push(`${relative(repo, file)}: ${m[1] === "export" ? "re-exports" : "imports"} ${spec}: ${why}`);
    }
  };
  for (const folder of readdirSync(join(repo, "lib"))) {
    for (const file of files(join(repo, "lib", folder))) {
      check(file, (target, reexport) => {
        const [top, other, ...rest] = target.split("/");
        if (top !== "lib") return top === "package.json" ? undefined : "lib/ may not import outside lib/";
        if (other === folder) return undefined;
        if (reexport) return `lib/${folder} may not re-export lib/${other}'s code as its own`;
        if (other !== "log" && !(ALLOWED[folder] ?? []).includes(other)) return `lib/${folder} may not use lib/${other}`;
        if (rest.join("/") !== "mod.ts") return `import lib/${other} only through its mod.ts`;
        return undefined;
      });
    }
  }
  if (existsSync(join(repo, "mod.ts"))) check(join(repo, "mod.ts"), (target) => (/^lib\/[^/]+\/mod\.ts$/.test(target) ? undefined : "the top-level mod.ts may use only the folders' mod.ts"));
  // helper.ts: the in-place RUN helper's entry, which must not load the rest of kiln (cli/main.ts).
  if (existsSync(join(repo, "helper.ts"))) check(join(repo, "helper.ts"), (target) => (target === "lib/sandbox/helper.ts" ? undefined : "the top-level helper.ts may use only lib/sandbox/helper.ts"));
  for (const file of files(join(repo, "cli"))) {
    check(file, (target) => (target === "mod.ts" || target === "helper.ts" || target.startsWith("cli/") ? undefined : "cli/ may import only the top-level mod.ts (and helper.ts)"));
  }
  return problems;
}

if (import.meta.main) {
  const problems = checkDeps(resolve(import.meta.dir, ".."));
  for (const p of problems) console.error(p);
  process.exit(problems.length ? 1 : 0);
}

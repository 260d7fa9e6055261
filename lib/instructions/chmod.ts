// COPY/ADD --chmod: octal (0644) or chmod(1) symbolic (u+x,g-w,o=r, a+X). Directories get the mode as files do
// (BuildKit sets exactly the octal mode on every copied directory: `--chmod=644` on a tree leaves its directories
// untraversable; `a+X` is the symbolic way to keep them searchable).

/** Maps a source's mode (permission bits, 0o7777) to the mode it gets in the image. */
export type ModeFn = (mode: number, isDir: boolean) => number;

export class ChmodError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ChmodError";
  }
}

const WHO: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o1007, a: 0o7777 };

export function parseChmod(spec: string): ModeFn {
  if (/^[0-7]{1,4}$/.test(spec)) {
    const m = parseInt(spec, 8);
    return () => m;
  }
  const clauses = spec.split(",").map((c) => {
    const cm = /^([ugoa]*)((?:[-+=][rwxXst]*)+)$/.exec(c);
    if (!cm) throw new ChmodError(`--chmod=${spec}: "${c}" is neither an octal mode nor a symbolic one like u+x,g-w,o=r`);
    const who = cm[1] === "" ? 0o7777 : [...cm[1]].reduce((acc, w) => acc | WHO[w], 0);
    const ops = [...cm[2].matchAll(/([-+=])([rwxXst]*)/g)].map((o) => ({ op: o[1], perms: o[2] }));
    return { who, ops };
  });
  return (orig, isDir) => {
    let mode = orig & 0o7777;
    for (const { who, ops } of clauses) {
      for (const { op, perms } of ops) {
        let bits = 0;
        for (const p of perms) {
          if (p === "r") bits |= 0o444;
          else if (p === "w") bits |= 0o222;
          else if (p === "x") bits |= 0o111;
          else if (p === "X") { if (isDir || (orig & 0o111)) bits |= 0o111; }
          else if (p === "s") bits |= 0o6000;
          else if (p === "t") bits |= 0o1000;
        }
        bits &= who;
        if (op === "+") mode |= bits;
        else if (op === "-") mode &= ~bits;
        else mode = (mode & ~(who & 0o7777)) | bits;
      }
    }
    return mode;
  };
}

import { expect, test } from "bun:test";
import { ChmodError, parseChmod } from "./chmod.ts";

test("octal modes apply exactly, to directories too (Docker: COPY --chmod=0640 dir leaves its subdirectories 0640)", () => {
  const f = parseChmod("640");
  expect(f(0o755, false)).toBe(0o640);
  expect(f(0o755, true)).toBe(0o640);
  expect(f(0o700, true)).toBe(0o640);
  expect(parseChmod("4755")(0o644, false)).toBe(0o4755);
});

test("symbolic modes as chmod(1) reads them", () => {
  const cases: [string, number, boolean, number][] = [
    ["u+x", 0o644, false, 0o744],
    ["u+x,g-r", 0o644, false, 0o704],
    ["go-w", 0o666, false, 0o644],
    ["a=r", 0o755, false, 0o444],
    ["=rw", 0o700, false, 0o666],
    ["u=rwx,g=rx,o=", 0o600, false, 0o750],
    ["a+X", 0o644, false, 0o644],
    ["a+X", 0o744, false, 0o755],
    ["a+X", 0o600, true, 0o711],
    ["go-x", 0o755, true, 0o744],
    ["u+s,o+t", 0o755, false, 0o5755],
    ["o=u", 0o640, false, 0o640], // copying classes is not supported: "u" is not a permission letter
  ];
  for (const [spec, from, isDir, want] of cases.slice(0, -1)) expect([spec, parseChmod(spec)(from, isDir).toString(8)]).toEqual([spec, want.toString(8)]);
  expect(() => parseChmod(cases[cases.length - 1][0])).toThrow(ChmodError);
});

test("bad specs are named", () => {
  for (const bad of ["u+q", "x+r", "999", "u+x,", ""]) expect(() => parseChmod(bad)).toThrow(ChmodError);
});

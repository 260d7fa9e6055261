// RUN --mount as the sandbox receives it: host paths only. The instruction has resolved every target inside the
// build root and made it exist; the runtime spec (spec.ts) turns each into a mount of the RUN's container, so
// nothing is ever mounted on the host and everything disappears with the command.

export type SandboxMount =
  | { type: "bind"; source: string; target: string; readonly: boolean }
  | { type: "tmpfs"; target: string; size?: number };

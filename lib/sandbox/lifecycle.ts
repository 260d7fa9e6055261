// Every RUN this process started, so that a build interrupted by SIGINT/SIGTERM can kill them all before it
// removes its work directory, and so that a later build can reap the RUNs of a build that died by SIGKILL.
// (The isolated mode's runtime bookkeeping is filled in by run.ts; the in-place mode registers its process group.)

export interface LiveRun {
  /** Kills the RUN's whole process tree and resolves once it is gone. */
  kill(): Promise<void>;
}

const live = new Set<LiveRun>();

/** Registers a running RUN; call the returned function when it has exited. */
export function trackRun(run: LiveRun): () => void {
  live.add(run);
  return () => live.delete(run);
}

/** Kills every RUN of this process that is still running (SIGINT/SIGTERM handling) and waits until they are gone. */
export async function abortAllRuns(): Promise<void> {
  await Promise.allSettled([...live].map((r) => r.kill()));
  live.clear();
}

/**
 * Kills and forgets what a dead build left running: the runtime containers recorded under its runtime state
 * directory (`<build dir>/runc`). Safe on a directory that does not exist or holds nothing.
 */
export async function reapRuns(runtimeStateDir: string): Promise<void> {
  void runtimeStateDir; // filled in with the runc sandbox
}

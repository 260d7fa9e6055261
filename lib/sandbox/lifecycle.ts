// Every RUN this process started, so that a build interrupted by SIGINT/SIGTERM can kill them all before it
// removes its work directory.
// The isolated mode registers its runc containers (runc.ts), the in-place mode its process groups (inplace.ts).

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

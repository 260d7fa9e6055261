// Every RUN this process started, by the build it belongs to (its runtime directory), so that an interrupted
// build (SIGINT/SIGTERM, or a library caller's abort) kills its own RUNs, and only those, before it removes its
// work directory. The isolated mode registers its runc containers (runc.ts), the in-place mode its process groups.

export interface LiveRun {
  /** The build's runtime directory. */
  build: string;
  /** Kills the RUN's whole process tree and resolves once it is gone. */
  kill(): Promise<void>;
}

const live = new Set<LiveRun>();

/** Registers a running RUN; call the returned function when it has exited. */
export function trackRun(run: LiveRun): () => void {
  live.add(run);
  return () => live.delete(run);
}

/** Kills every RUN of the build with this runtime directory that is still running, and waits until they are gone. */
export async function abortRuns(runtimeDir: string): Promise<void> {
  const mine = [...live].filter((r) => r.build === runtimeDir);
  for (const r of mine) live.delete(r);
  await Promise.allSettled(mine.map((r) => r.kill()));
}

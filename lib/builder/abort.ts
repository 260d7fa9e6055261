// Stopping a build through BuildOptions.signal.
import { BuildInterruptedError } from "./errors.ts";

/**
 * Rejects with BuildInterruptedError once `signal` aborts and `cleanup` has run. settled() waits for that cleanup
 * when an abort started it (the build may fail on its own first, as its RUN is killed); dispose() when over.
 */
export function whenAborted(signal: AbortSignal | undefined, cleanup: () => Promise<void>) {
  let listener: (() => void) | undefined;
  let cleaning: Promise<void> | undefined;
  const promise = new Promise<never>((_, reject) => {
    listener = () => {
      cleaning = cleanup();
      void cleaning.finally(() => reject(new BuildInterruptedError(String(signal!.reason ?? "an abort"))));
    };
    if (signal?.aborted) listener();
    else signal?.addEventListener("abort", listener, { once: true });
  });
  promise.catch(() => {}); // only raced against the build
  return {
    promise,
    settled: async () => { await cleaning?.catch(() => {}); },
    dispose: () => { if (listener) signal?.removeEventListener("abort", listener); },
  };
}

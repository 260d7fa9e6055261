import { expect, test } from "bun:test";
import { StageScheduler } from "./scheduler.ts";

/** A promise settled from outside, to order events without timers. */
function deferred<T = void>() {
  let resolve!: (v: T) => void, reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** Lets every pending callback run. */
const drain = () => new Promise((r) => setImmediate(r));

test("independent stages run at the same time; a stage starts only once the stages it names are done", async () => {
  const gates = [deferred<string>(), deferred<string>(), deferred<string>()];
  const started: number[] = [];
  const s = new StageScheduler<string>({ sequential: false });
  const run = s.run([0, 1, 2], (i) => (i === 2 ? [0, 1] : []), (i) => {
    started.push(i);
    return gates[i].promise;
  });
  await drain();
  expect(started).toEqual([0, 1]);
  gates[1].resolve("b");
  await drain();
  expect(started).toEqual([0, 1]); // 2 still waits for 0
  gates[0].resolve("a");
  await drain();
  expect(started).toEqual([0, 1, 2]);
  gates[2].resolve("c");
  expect([...(await run).entries()]).toEqual([[0, "a"], [1, "b"], [2, "c"]]);
  expect(await s.result(2)).toBe("c");
  expect(s.result(7)).toBeUndefined();
});

test("a failing stage lets the running one settle before the first failure is reported", async () => {
  const slow = deferred<string>();
  let slowSettled = false;
  const s = new StageScheduler<string>({ sequential: false });
  let outcome: unknown;
  const run = s.run([0, 1, 2], (i) => (i === 2 ? [0] : []), async (i) => {
    if (i === 0) throw new Error("stage 0 failed");
    if (i === 2) throw new Error("stage 2 must not run: its dependency failed");
    const v = await slow.promise;
    slowSettled = true;
    return v;
  }).then(() => { outcome = "resolved"; }, (e) => { outcome = e; });
  await drain();
  expect(outcome).toBeUndefined(); // stage 1 is still running
  slow.resolve("done");
  await run;
  expect(slowSettled).toBe(true);
  expect((outcome as Error).message).toBe("stage 0 failed");
});

test("in place, one stage at a time in order, and nothing after a failure starts", async () => {
  const gates = [deferred<number>(), deferred<number>(), deferred<number>()];
  const started: number[] = [];
  const s = new StageScheduler<number>({ sequential: true });
  const run = s.run([0, 1, 2], () => [], (i) => {
    started.push(i);
    return gates[i].promise;
  });
  run.catch(() => {});
  await drain();
  expect(started).toEqual([0]);
  gates[0].resolve(0);
  await drain();
  expect(started).toEqual([0, 1]);
  gates[1].reject(new Error("stage 1 failed"));
  await expect(run).rejects.toThrow("stage 1 failed");
  expect(started).toEqual([0, 1]);
});

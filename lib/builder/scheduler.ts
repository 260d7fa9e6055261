// When each stage builds. In the isolated mode independent stages build at the same time (each has its own root);
// a stage starts once the stages it names are done. In place there is one "/": one stage at a time, in order.

export class StageScheduler<T> {
  readonly #sequential: boolean;
  readonly #pending = new Map<number, Promise<T>>();

  constructor(o: { sequential: boolean }) {
    this.#sequential = o.sequential;
  }

  /**
   * Runs `build` for every index of `order` once the indexes `depsOf` names are done (a failed dependency fails
   * the stages that wait for it without running them). On a failure every stage settles before the promise
   * rejects, so none is still writing when the caller cleans up; it rejects with the failure of the earliest
   * stage in `order`.
   */
  async run(order: readonly number[], depsOf: (index: number) => readonly number[], build: (index: number) => Promise<T>): Promise<Map<number, T>> {
    for (const index of order) {
      const p = Promise.all(depsOf(index).map((d) => this.#pending.get(d))).then(() => build(index));
      this.#pending.set(index, p);
      if (this.#sequential) await p;
    }
    const settled = await Promise.allSettled(order.map((i) => this.#pending.get(i)!));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    return new Map(order.map((i, n) => [i, (settled[n] as PromiseFulfilledResult<T>).value]));
  }

  /** The result of a stage scheduled by run(), once it is built; undefined for a stage that is not scheduled. */
  result(index: number): Promise<T> | undefined {
    return this.#pending.get(index);
  }
}

export class BuildError extends Error {
  constructor(message: string, public readonly step?: { file: string; line: number }) {
    super(message);
    this.name = "BuildError";
  }
}

/** The build was stopped through BuildOptions.signal (SIGINT/SIGTERM in the CLI); nothing it wrote is left. */
export class BuildInterruptedError extends Error {
  constructor(readonly reason: string) {
    super(`interrupted by ${reason}: the running RUN was killed, and the build's work directory and unfinished outputs removed`);
    this.name = "BuildInterruptedError";
  }
}

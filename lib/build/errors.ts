export class BuildError extends Error {
  constructor(message: string, public readonly step?: { file: string; line: number }) {
    super(message);
    this.name = "BuildError";
  }
}

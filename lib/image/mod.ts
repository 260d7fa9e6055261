export * from "./types.ts";
export * from "./digest.ts";
export * from "./reference.ts";
export * from "./image.ts";
export * from "./platform.ts";
export * from "./outputs.ts";
export * from "./index.ts";

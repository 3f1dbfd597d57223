export * from "./attributes.ts";
export * from "./contract.ts";
export * from "./events.ts";
export * from "./make.ts";
export * from "./shared.ts";
export * as EventTypes from "./types.ts";

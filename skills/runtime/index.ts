export * from "../../runtime/keys.ts";
export * from "./canonical-json.ts";
export * from "./capability.ts";
export * from "./descriptor.ts";
export * from "./serve-skill.ts";
export * from "./sign-reply.ts";
export * from "./tool-error.ts";
export * from "./trusted-keys.ts";

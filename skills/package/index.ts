export * from "./bind.ts";
export * from "./frontmatter.ts";
export * from "./identity.ts";
export * from "./loader.ts";
export * from "./manifest.ts";
export * from "./skill-doc.ts";
export * from "./skill-package.ts";
export * from "./tool.ts";

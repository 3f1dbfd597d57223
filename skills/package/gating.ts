import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * OpenClaw's load-time gating of a skill (`metadata.openclaw`, or the legacy `metadata.clawdbot` when that is absent;
 * src/agents/skills/frontmatter.ts and src/shared/frontmatter.ts in openclaw/openclaw): the binaries, environment
 * variables and config paths a skill needs, the OSes it runs on, and `always`. Each field is read on its own, the way
 * OpenClaw reads it: a malformed field is dropped with a warning and the others still gate the skill (one `primaryEnv:
 * null` must not throw away a skill's `requires.env`).
 */
export interface SkillGating {
  always?: boolean;
  os?: string[];
  primaryEnv?: string;
  emoji?: string;
  homepage?: string;
  /** The key the skill's settings are found under, when not its name. */
  skillKey?: string;
  requires?: { bins: string[]; anyBins: string[]; env: string[]; config: string[] };
  /** Installer hints (brew, node, go, uv, download), kept for listings: knclaw never runs them. */
  install?: Record<string, unknown>[];
}

/** The keys OpenClaw reads gating from, first found wins. */
const GATING_KEYS = ["openclaw", "clawdbot"] as const;
/** Names older OpenClaw releases read that current OpenClaw ignores: ignored here too, with a warning. */
const RETIRED_KEYS = ["clawdis", "moltbot"] as const;

export function readGating(metadata: Record<string, unknown>, warnings: string[]): SkillGating | undefined {
  const key = GATING_KEYS.find((name) => isObject(metadata[name]) || Array.isArray(metadata[name]));
  if (key === undefined) {
    for (const retired of RETIRED_KEYS) {
      if (metadata[retired] !== undefined)
        warnings.push(`metadata.${retired} is a retired OpenClaw key (OpenClaw reads openclaw or clawdbot): ignored`);
    }
    return undefined;
  }
  const block = metadata[key] as Record<string, unknown>;
  const where = `metadata.${key}`;
  const gating: SkillGating = {};
  const field = <T>(name: string, read: (value: unknown) => T | undefined, set: (value: T) => void) => {
    const value = block[name];
    if (value === undefined) return;
    const parsed = read(value);
    if (parsed === undefined) warnings.push(`${where}.${name} is malformed: that field is ignored`);
    else set(parsed);
  };
  field(
    "always",
    (v) => (typeof v === "boolean" ? v : undefined),
    (v) => (gating.always = v),
  );
  field("emoji", asString, (v) => (gating.emoji = v));
  field("homepage", asString, (v) => (gating.homepage = v));
  field("skillKey", asString, (v) => (gating.skillKey = v));
  field("primaryEnv", asString, (v) => (gating.primaryEnv = v));
  field("os", looseList, (v) => {
    if (v.length > 0) gating.os = v;
  });
  if (block.requires !== undefined) {
    if (isObject(block.requires)) gating.requires = readRequires(block.requires, `${where}.requires`, warnings);
    else warnings.push(`${where}.requires is malformed: the skill is gated by nothing it requires`);
  }
  field(
    "install",
    (v) => (Array.isArray(v) ? v.filter(isObject) : undefined),
    (v) => {
      if (v.length > 0) gating.install = v;
    },
  );
  return gating;
}

function readRequires(raw: Record<string, unknown>, where: string, warnings: string[]): SkillGating["requires"] {
  const list = (name: string) => {
    const value = raw[name];
    if (value === undefined) return [];
    const parsed = looseList(value);
    if (parsed === undefined) {
      warnings.push(`${where}.${name} is malformed: that requirement is ignored`);
      return [];
    }
    return parsed;
  };
  const config = Array.isArray(raw.config)
    ? raw.config.flatMap((entry) => {
        if (typeof entry === "string") return entry.trim() === "" ? [] : [entry.trim()];
        // OpenClaw skips {path, access, purpose} shapes it cannot look up, rather than looking up "[object Object]".
        warnings.push(`${where}.config entry ${JSON.stringify(entry)} is not a config path: ignored`);
        return [];
      })
    : list("config");
  return { bins: list("bins"), anyBins: list("anyBins"), env: list("env"), config };
}

/** A list as OpenClaw reads one: an array (each entry as a string), or a comma-separated string. */
function looseList(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.map((entry) => String(entry).trim()).filter((entry) => entry !== "");
  if (typeof value === "string")
    return value
      .split(",")
      .map((entry) => entry.trim())
      .filter((entry) => entry !== "");
  return undefined;
}

function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** What a gating check looks at. Every lookup is injected, so callers say where the skill will run. */
export interface GatingProbe {
  env: Readonly<Record<string, string | undefined>>;
  /** `process.platform`-style name: knclaw functions run on linux. */
  platform: string;
  /** Whether an executable is on PATH (`binaryOnPath` for this machine). Unset: no binary is found. */
  hasBin?: (name: string) => boolean;
  /** Whether a config path is set and truthy (`configPathSet` over knclaw.yaml). Unset: no config path is set. */
  hasConfig?: (path: string) => boolean;
}

export interface GatingVerdict {
  eligible: boolean;
  /** Human-readable reasons, e.g. `env GITHUB_TOKEN`, `bin gh`, `os darwin`, `config browser.enabled`. */
  missing: string[];
}

/**
 * Evaluate gating as OpenClaw does: the OS list is a hard filter (`always` does not override it), then `always`
 * admits the skill, then every binary, one of `anyBins`, every environment variable and every config path.
 */
export function checkGating(gating: SkillGating | undefined, probe: GatingProbe): GatingVerdict {
  if (!gating) return { eligible: true, missing: [] };
  const missing: string[] = [];
  if (gating.os && gating.os.length > 0 && !gating.os.includes(probe.platform))
    missing.push(`os ${gating.os.join("|")}`);
  if (gating.always === true) return { eligible: missing.length === 0, missing };
  const hasBin = probe.hasBin ?? (() => false);
  for (const bin of gating.requires?.bins ?? []) {
    if (!hasBin(bin)) missing.push(`bin ${bin}`);
  }
  const anyBins = gating.requires?.anyBins ?? [];
  if (anyBins.length > 0 && !anyBins.some(hasBin)) missing.push(`one of bins ${anyBins.join("|")}`);
  for (const name of gating.requires?.env ?? []) {
    if (!probe.env[name]) missing.push(`env ${name}`);
  }
  const hasConfig = probe.hasConfig ?? (() => false);
  for (const path of gating.requires?.config ?? []) {
    if (!hasConfig(path)) missing.push(`config ${path}`);
  }
  return { eligible: missing.length === 0, missing };
}

/** Whether `name` is an executable file in a directory of `pathVariable` (a bare name only: no path lookups). */
export function binaryOnPath(name: string, pathVariable: string | undefined): boolean {
  if (name === "" || name.includes("/") || name.includes("\\")) return false;
  for (const dir of (pathVariable ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return true;
    } catch {
      // not here: keep looking
    }
  }
  return false;
}

/**
 * Whether a dotted path (`browser.enabled`, `instances.ops.model`) is set and truthy in a config object: false, 0,
 * empty strings, null and missing keys are unset; objects and lists are set. OpenClaw checks `openclaw.json` this
 * way; knclaw checks knclaw.yaml.
 */
export function configPathSet(config: unknown, path: string): boolean {
  let current: unknown = config;
  for (const part of path.split(".").filter((segment) => segment !== "")) {
    if (current === null || typeof current !== "object" || !Object.hasOwn(current, part)) return false;
    current = (current as Record<string, unknown>)[part];
  }
  if (current === undefined || current === null) return false;
  if (typeof current === "boolean") return current;
  if (typeof current === "number") return current !== 0;
  if (typeof current === "string") return current.trim() !== "";
  return true;
}

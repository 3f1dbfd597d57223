/**
 * The SKILL.md skill folders of config `skillFolders` carried to a cluster. An agent reads its folder skills from
 * disk at start (functions/agent/skills.ts), and its pod has no such folders: each folder skill some instance names
 * is packed into a ConfigMap of its own (`skill-folder-<skill>`: its SKILL.md and the other text files of its
 * folder, which the instructions may point the model at through `{baseDir}`), and each agent mounts the ConfigMaps
 * of its skills read-only as one projected volume at SKILL_FOLDERS_MOUNT, one folder per skill, with
 * KNCLAW_SKILL_FOLDERS naming that one root. Precedence between the configured folders is settled here, at render
 * time, so the pod holds exactly the copy that wins.
 *
 * A ConfigMap key cannot hold `/`: every file gets a flat key and its item's `path` rebuilds the folder tree. A
 * ConfigMap holds at most 1 MiB (keys and values; the API server refuses more), so a bigger folder is refused, naming
 * the file at which it overflows. Files that are not UTF-8 text, symbolic links (which could point anywhere on this machine)
 * and hidden entries (`.git`, `.env`) are not packed; the ConfigMap lists what it left out in an annotation and
 * `knclaw validate` warns. The ConfigMap and the agent's revision template carry a content hash, so a changed skill
 * rolls the agent (a running pod's projected files change too, but the agent reads them only at start).
 *
 * `knclaw dev` renders with `skillFolders: "local"`: its agents run on this machine and read the folders in place.
 */
import { createHash } from "node:crypto";
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { LABEL_COMPONENT } from "../../runtime/names.ts";
import { discoverSkillDocs } from "../../skills/package/loader.ts";
import { builtinSkill } from "../config/builtin-skills.ts";
import { ConfigError, type ConfigIssue } from "../config/errors.ts";
import type { PlatformConfig } from "../config/schema.ts";
import { baseLabels, metadata, type RenderContext } from "./context.ts";
import type { RenderedObject } from "./types.ts";

/** The `knclaw.dev/component` label of the ConfigMaps. */
export const SKILL_FOLDER_COMPONENT = "skill-folder";
/** Where an agent's folder skills are in its container: `<mount>/<skill>/SKILL.md`. */
export const SKILL_FOLDERS_MOUNT = "/var/run/knclaw/skill-folders";
const VOLUME = "knclaw-skill-folders";
/** sha256 of a ConfigMap's files (on the ConfigMap), and of all an agent mounts (on its revision template). */
const ANNOTATION_CONTENT_HASH = "knclaw.dev/content-hash";
export const ANNOTATION_SKILL_FOLDERS_HASH = "knclaw.dev/skill-folders-hash";
/** The files of the folder that were left out, with why (JSON). */
const ANNOTATION_SKIPPED_FILES = "knclaw.dev/skipped-files";
/** The API server's limit on a ConfigMap's data, keys included (k8s.io/kubernetes core validation, MaxSecretSize). */
const CONFIG_MAP_MAX_BYTES = 1024 * 1024;
/** Entries never packed: VCS metadata, installed dependencies. Hidden entries are skipped as well. */
const NEVER_PACKED = new Set(["node_modules", "__pycache__"]);

interface PackedFile {
  /** The file's path inside the skill folder, `/`-separated: the projected item's path below the skill's folder. */
  path: string;
  /** Its ConfigMap key. */
  key: string;
  content: string;
  /** 0755 for a file with an executable bit (a script the instructions tell the model to run), else the default. */
  mode?: number;
}

interface SkillFolderPack {
  skill: string;
  /** The folder on this machine it was packed from. */
  dir: string;
  configMap: string;
  files: PackedFile[];
  skipped: Array<{ path: string; reason: string }>;
  hash: string;
}

/** Per config object: one render (its ConfigMaps, each agent's volume, validate's warnings) reads the folders once. */
const packed = new WeakMap<PlatformConfig, SkillFolderPack[]>();

/**
 * Every folder skill an instance names (a name without a `skills` entry that a configured folder holds), packed,
 * sorted by name. Throws a ConfigError naming the folder when one does not fit a ConfigMap.
 */
function packSkillFolders(config: PlatformConfig): SkillFolderPack[] {
  const known = packed.get(config);
  if (known !== undefined) return known;
  const used = new Set(
    Object.values(config.instances).flatMap((instance) =>
      instance.skills.filter((skill) => config.skills[skill] === undefined),
    ),
  );
  const docs = used.size === 0 || config.skillFolders.length === 0 ? new Map() : discoverSkillDocs(config.skillFolders);
  const packs = [...used].sort().flatMap((skill) => {
    const found = docs.get(skill);
    return found === undefined ? [] : [packFolder(skill, found.dir)];
  });
  packed.set(config, packs);
  return packs;
}

function packFolder(skill: string, dir: string): SkillFolderPack {
  const files: PackedFile[] = [];
  const skipped: SkillFolderPack["skipped"] = [];
  // Keys plus values, as the API server counts them against CONFIG_MAP_MAX_BYTES.
  let bytes = 0;
  const keys = new Set<string>();
  for (const { path, rel, size, executable } of walk(dir, skipped)) {
    // A file over the limit is never read whole: its head says whether it is binary (left out) or text (refused).
    const raw = size > CONFIG_MAP_MAX_BYTES ? readHead(path) : readFileSync(path);
    const content = utf8Text(raw, size > CONFIG_MAP_MAX_BYTES);
    if (content === undefined) {
      skipped.push({ path: rel, reason: "not UTF-8 text" });
      continue;
    }
    const key = configMapKey(rel);
    if (keys.has(key)) throw new Error(`skill folder ${dir}: two files map to ConfigMap key ${key}`);
    keys.add(key);
    bytes += Buffer.byteLength(key) + size;
    files.push({ path: rel, key, content, ...(executable ? { mode: 0o755 } : {}) });
    if (bytes > CONFIG_MAP_MAX_BYTES) throw tooLarge(skill, dir, files, size);
  }
  const hash = createHash("sha256");
  for (const file of files) hash.update(`${file.key}\0${file.path}\0${file.mode ?? ""}\0${file.content}\0`);
  return { skill, dir, configMap: `skill-folder-${skill}`, files, skipped, hash: hash.digest("hex") };
}

interface FolderFile {
  path: string;
  /** `/`-separated, relative to the skill folder. */
  rel: string;
  size: number;
  executable: boolean;
}

/** The regular files under a folder, sorted, recording what is left out and why. */
function walk(dir: string, skipped: SkillFolderPack["skipped"], root = dir): FolderFile[] {
  const out: FolderFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const rel = relative(root, path).split(sep).join("/");
    const stat = lstatSync(path);
    if (name.startsWith(".")) skipped.push({ path: rel, reason: "hidden" });
    else if (NEVER_PACKED.has(name)) skipped.push({ path: rel, reason: "installed dependencies" });
    else if (stat.isSymbolicLink()) skipped.push({ path: rel, reason: "a symbolic link (not followed)" });
    else if (stat.isDirectory()) out.push(...walk(path, skipped, root));
    else if (stat.isFile()) out.push({ path, rel, size: stat.size, executable: (stat.mode & 0o111) !== 0 });
    else skipped.push({ path: rel, reason: "not a regular file" });
  }
  return out;
}

const HEAD_BYTES = 64 * 1024;

function readHead(path: string): Buffer {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    return head.subarray(0, readSync(fd, head, 0, HEAD_BYTES, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * The text of a file, or undefined when it is not UTF-8 or holds NUL bytes (binary by any reasonable reading).
 * `partial`: the bytes are only the file's head, which may end inside a character.
 */
function utf8Text(raw: Buffer, partial = false): string | undefined {
  if (raw.includes(0)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(raw, { stream: partial });
  } catch {
    return undefined;
  }
}

/**
 * A ConfigMap key for a file path (keys are `[-._a-zA-Z0-9]+`, at most 253 characters, not starting with `..`): the
 * path itself when it is one, else its allowed characters with a digest of the path, so distinct paths never meet.
 */
function configMapKey(path: string): string {
  if (/^[-._a-zA-Z0-9]{1,253}$/.test(path) && !path.startsWith("..")) return path;
  const digest = createHash("sha256").update(path).digest("hex").slice(0, 12);
  const readable = path.replace(/[^-._a-zA-Z0-9]+/g, "_").replace(/^\.+/, "");
  return `${readable.slice(-(253 - 13))}-${digest}`;
}

function tooLarge(skill: string, dir: string, files: PackedFile[], lastSize: number): ConfigError {
  const last = files.at(-1)!;
  const message =
    lastSize > CONFIG_MAP_MAX_BYTES
      ? `${last.path} alone is ${lastSize} bytes of text`
      : `its text files pass ${CONFIG_MAP_MAX_BYTES} bytes at ${last.path} (${files.length} files packed so far)`;
  return new ConfigError([
    {
      path: "skillFolders",
      rule: "skill-folder-size",
      message:
        `skill ${skill} (${dir}) does not fit the 1 MiB (${CONFIG_MAP_MAX_BYTES} bytes) a ConfigMap holds: ${message}; ` +
        "move what the skill does not need out of its folder",
    },
  ]);
}

/** The ConfigMaps of the folder skills, labelled as knclaw's, each with its content hash and what it left out. */
export function renderSkillFolderConfigMaps(ctx: RenderContext): RenderedObject[] {
  if (ctx.skillFolders !== "configmap") return [];
  return packSkillFolders(ctx.config).map((pack) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: metadata(
      ctx,
      pack.configMap,
      { ...baseLabels(ctx, pack.configMap), [LABEL_COMPONENT]: SKILL_FOLDER_COMPONENT },
      {
        [ANNOTATION_CONTENT_HASH]: `sha256:${pack.hash}`,
        ...(pack.skipped.length > 0 ? { [ANNOTATION_SKIPPED_FILES]: JSON.stringify(pack.skipped) } : {}),
      },
    ),
    data: Object.fromEntries(pack.files.map((file) => [file.key, file.content])),
  }));
}

/** The packs an instance's agent mounts: its own folder skills. */
function instancePacks(ctx: RenderContext, instance: string): SkillFolderPack[] {
  if (ctx.skillFolders !== "configmap") return [];
  const skills = ctx.config.instances[instance]?.skills ?? [];
  return packSkillFolders(ctx.config).filter((pack) => skills.includes(pack.skill));
}

/** KNCLAW_SKILL_FOLDERS of an instance's agent: the mount in a cluster, the configured folders under `knclaw dev`. */
export function agentSkillFolders(ctx: RenderContext, instance: string): string[] | undefined {
  if (ctx.skillFolders === "local") return ctx.config.skillFolders.length > 0 ? ctx.config.skillFolders : undefined;
  return instancePacks(ctx, instance).length > 0 ? [SKILL_FOLDERS_MOUNT] : undefined;
}

/** The agent's volume of its folder skills, its read-only mount and the hash its revision template carries. */
export function skillFolderVolume(
  ctx: RenderContext,
  instance: string,
): { volume: Record<string, unknown>; mount: Record<string, unknown>; hash: string } | undefined {
  const packs = instancePacks(ctx, instance);
  if (packs.length === 0) return undefined;
  const sources = packs.map((pack) => ({
    configMap: {
      name: pack.configMap,
      items: pack.files.map((file) => ({
        key: file.key,
        path: `${pack.skill}/${file.path}`,
        ...(file.mode !== undefined ? { mode: file.mode } : {}),
      })),
    },
  }));
  const hash = createHash("sha256");
  for (const pack of packs) hash.update(`${pack.configMap}\0${pack.hash}\0`);
  return {
    volume: { name: VOLUME, projected: { sources } },
    mount: { name: VOLUME, mountPath: SKILL_FOLDERS_MOUNT, readOnly: true },
    hash: `sha256:${hash.digest("hex")}`,
  };
}

/**
 * What `knclaw validate` says of the folder skills beyond the rendered objects: files left out of a ConfigMap, and
 * skills an instance names that no configured folder (nor knclaw) has, which its agent will report unavailable.
 */
export function skillFolderWarnings(config: PlatformConfig): ConfigIssue[] {
  const warnings: ConfigIssue[] = [];
  const packs = packSkillFolders(config);
  for (const pack of packs) {
    for (const file of pack.skipped) {
      warnings.push({
        path: "skillFolders",
        rule: "skill-folder-file",
        message: `skill ${pack.skill}: ${file.path} is not packed into ConfigMap ${pack.configMap}: ${file.reason}`,
      });
    }
  }
  for (const [name, instance] of Object.entries(config.instances)) {
    instance.skills.forEach((skill, index) => {
      if (
        config.skills[skill] !== undefined ||
        builtinSkill(skill) !== undefined ||
        packs.some((pack) => pack.skill === skill)
      )
        return;
      warnings.push({
        path: `instances.${name}.skills[${index}]`,
        rule: "skill-folder-missing",
        message: `no configured skill folder has a skill named ${skill}: the agent will report it unavailable`,
      });
    });
  }
  return warnings;
}

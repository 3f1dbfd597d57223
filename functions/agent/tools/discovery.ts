import type { Logger } from "../../../runtime/log.ts";
import { SkillDescriptor } from "../../../skills/runtime/descriptor.ts";
import type { SkillInfo } from "./catalog.ts";

/** Where a skill describes itself (skills/runtime/serve-skill.ts DESCRIBE_PATH). */
const DESCRIBE_PATH = "/.well-known/knclaw-skill";

export interface SkillDiscoveryOptions {
  /** skill name -> the skill function's URL (KNCLAW_SKILL_ENDPOINTS). */
  endpoints: Readonly<Record<string, string>>;
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  log: Logger;
  /** How long a fetched descriptor is used before it is asked for again. */
  ttlMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

/**
 * The descriptors of skills whose tools are known only at run time (MCP servers): each skill function serves what
 * it discovered at `GET /.well-known/knclaw-skill`, and the agent reads it at its first step and again once the last
 * read is older than the TTL. The skill re-lists its server's tools when the server announces a change, so the
 * agent's view lags a change by at most the TTL. A skill that cannot be reached keeps the tools last read (none
 * before the first success): the step goes on, and a call to a tool that vanished is answered NotFound by the skill.
 */
export class SkillDiscovery {
  private readonly options: SkillDiscoveryOptions;
  private readonly known = new Map<string, SkillInfo>();
  private readonly ttlMs: number;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | undefined;
  private version = 0;

  constructor(options: SkillDiscoveryOptions) {
    this.options = options;
    this.ttlMs = options.ttlMs ?? 30_000;
  }

  /** Changes whenever the set of known descriptors does. */
  get generation(): number {
    return this.version;
  }

  /** The descriptors as last read, refreshed first when stale. */
  async current(): Promise<SkillInfo[]> {
    const now = (this.options.now ?? Date.now)();
    if (now - this.checkedAt >= this.ttlMs) {
      this.refreshing ??= this.refresh().finally(() => {
        this.checkedAt = (this.options.now ?? Date.now)();
        this.refreshing = undefined;
      });
      await this.refreshing;
    }
    return [...this.known.values()];
  }

  private async refresh(): Promise<void> {
    await Promise.all(
      Object.entries(this.options.endpoints).map(async ([skill, url]) => {
        try {
          const response = await this.options.fetch(`${url.replace(/\/$/, "")}${DESCRIBE_PATH}`, {
            method: "GET",
            headers: { accept: "application/json" },
            signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
          });
          if (response.status !== 200) {
            await response.body?.cancel();
            throw new Error(`HTTP ${response.status}`);
          }
          const descriptor = SkillDescriptor.parse(await response.json());
          if (descriptor.name !== skill) throw new Error(`it describes itself as ${descriptor.name}`);
          const before = JSON.stringify(this.known.get(skill));
          this.known.set(skill, descriptor);
          if (JSON.stringify(descriptor) !== before) this.version += 1;
        } catch (error) {
          this.options.log.warn(
            { skill, reason: error instanceof Error ? error.message : String(error) },
            "skill descriptor not read: its last known tools stay offered",
          );
        }
      }),
    );
  }
}

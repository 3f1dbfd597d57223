/**
 * Rules that span sections: names that must refer to something, and object names derived from several fields
 * that must still fit Kubernetes' limits.
 */
import type { z } from "zod";
import type { PlatformConfig } from "./schema.ts";
import { RECEIVE_ONLY_CHANNELS } from "./sections/channels.ts";
import { manifestDeclaresRbac } from "./sections/skills.ts";

type Ctx = z.core.$RefinementCtx<PlatformConfig>;

function issue(ctx: Ctx, config: PlatformConfig, path: (string | number)[], rule: string, message: string): void {
  ctx.addIssue({ code: "custom", input: config, path, message, params: { rule } });
}

/**
 * A reply route must name a channel that can post, and that is there: answers routed to a receive-only one, or to a
 * chat channel with no adapter (no Trigger takes its message.send, so the broker drops it), would reach nobody: a
 * heartbeat that finds something would post nowhere. `http` answers go to the gateway, which is always there.
 */
function replyRouteCheck(
  ctx: Ctx,
  config: PlatformConfig,
  route: { channel: string } | undefined,
  path: (string | number)[],
): void {
  if (route === undefined || route.channel === "http") return;
  const channel = config.channels[route.channel as keyof PlatformConfig["channels"]];
  if (!RECEIVE_ONLY_CHANNELS.has(route.channel) && (channel === undefined || !channel.enabled)) {
    issue(
      ctx,
      config,
      path,
      "reply-route",
      `channel ${route.channel} is not configured and enabled in channels: answers routed there would reach nobody`,
    );
    return;
  }
  if (!RECEIVE_ONLY_CHANNELS.has(route.channel)) return;
  issue(
    ctx,
    config,
    path,
    "reply-route",
    `the ${route.channel} channel only receives: it cannot carry answers (name a chat channel, or leave replyTo out to keep only the run's outcome)`,
  );
}

export function crossCheck(config: PlatformConfig, ctx: Ctx): void {
  const instances = config.instances;
  const enabledSkills = new Set(
    Object.entries(config.skills)
      .filter(([, s]) => s.enabled)
      .map(([n]) => n),
  );

  for (const [name, instance] of Object.entries(instances)) {
    if (config.policies[instance.policy] === undefined) {
      issue(
        ctx,
        config,
        ["instances", name, "policy"],
        "reference",
        `no policy named ${JSON.stringify(instance.policy)} in policies`,
      );
    }
    instance.skills.forEach((skill, index) => {
      // A skill of the skill folders (SKILL.md only) needs no entry: the agent reads it from the folders at start,
      // and reports it unavailable when it is not there.
      if (config.skills[skill] === undefined && config.skillFolders.length === 0) {
        issue(
          ctx,
          config,
          ["instances", name, "skills", index],
          "reference",
          `no skill named ${JSON.stringify(skill)} in skills (or set skillFolders for SKILL.md skill folders)`,
        );
      } else if (config.skills[skill] !== undefined && !enabledSkills.has(skill)) {
        issue(
          ctx,
          config,
          ["instances", name, "skills", index],
          "reference",
          `skill ${JSON.stringify(skill)} is disabled`,
        );
      }
    });
    instance.channels.forEach((type, index) => {
      const channel = config.channels[type];
      if (channel === undefined || !channel.enabled) {
        issue(
          ctx,
          config,
          ["instances", name, "channels", index],
          "reference",
          `channel ${type} is not configured and enabled in channels`,
        );
      }
    });
    instance.schedules.forEach((schedule, index) => {
      replyRouteCheck(ctx, config, schedule.replyTo, ["instances", name, "schedules", index, "replyTo", "channel"]);
      const objectName = `agent-${name}-${schedule.name}`;
      if (objectName.length > 63) {
        issue(
          ctx,
          config,
          ["instances", name, "schedules", index, "name"],
          "name",
          `the PingSource name ${objectName} is longer than 63 characters: shorten the schedule name`,
        );
      }
    });
  }

  for (const [type, channel] of Object.entries(config.channels)) {
    if (channel === undefined) continue;
    for (const [hook, spec] of Object.entries(channel.hooks)) {
      replyRouteCheck(ctx, config, spec.replyTo, ["channels", type, "hooks", hook, "replyTo", "channel"]);
    }
    channel.routes.forEach((route, index) => {
      if (instances[route.instance] === undefined) {
        issue(
          ctx,
          config,
          ["channels", type, "routes", index, "instance"],
          "reference",
          `no instance named ${JSON.stringify(route.instance)}`,
        );
      }
    });
    if (channel.defaultInstance !== undefined && instances[channel.defaultInstance] === undefined) {
      issue(
        ctx,
        config,
        ["channels", type, "defaultInstance"],
        "reference",
        `no instance named ${JSON.stringify(channel.defaultInstance)}`,
      );
    }
    for (const [hook, definition] of Object.entries(channel.hooks)) {
      if (instances[definition.instance] === undefined) {
        issue(
          ctx,
          config,
          ["channels", type, "hooks", hook, "instance"],
          "reference",
          `no instance named ${JSON.stringify(definition.instance)}`,
        );
      }
    }
    for (const instance of Object.keys(channel.instances)) {
      if (instances[instance] === undefined) {
        issue(
          ctx,
          config,
          ["channels", type, "instances", instance],
          "reference",
          `no instance named ${JSON.stringify(instance)}`,
        );
      }
    }
  }

  for (const [name, skill] of Object.entries(config.skills)) {
    for (const instance of Object.keys(skill.grants)) {
      if (instances[instance] === undefined) {
        issue(
          ctx,
          config,
          ["skills", name, "grants", instance],
          "reference",
          `no instance named ${JSON.stringify(instance)}`,
        );
      }
    }
    // A built-in skill's manifest declares its RBAC; config grants only say where (and whether cluster-wide).
    const fromManifest = manifestDeclaresRbac(name);
    if (Object.keys(skill.grants).length > 0 && skill.rbac === undefined && !fromManifest) {
      issue(
        ctx,
        config,
        ["skills", name, "grants"],
        "rbac",
        "namespace grants need rbac.rules: what the skill may do there",
      );
    }
    if (skill.rbac !== undefined && fromManifest) {
      issue(
        ctx,
        config,
        ["skills", name, "rbac"],
        "rbac",
        `skill ${name} declares its RBAC in its manifest: remove rbac here and grant namespaces with grants`,
      );
    }
  }
  // Whether each function has an image is not a property of the config: knclaw dev needs none (images.ts).
}

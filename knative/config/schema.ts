/**
 * knclaw.yaml: the platform config, composed from one file per section so each engineer extends their own
 * (sections/platform.ts, broker, memory, gateway, channels, instances, policies, skills). Checks that span
 * sections (an instance's policy exists, a route names a real instance, ...) live in cross-checks.ts.
 */
import { z } from "zod";
import { crossCheck } from "./cross-checks.ts";
import { brokerSection } from "./sections/broker.ts";
import { channelsSection } from "./sections/channels.ts";
import { gatewaySection } from "./sections/gateway.ts";
import { instancesSection } from "./sections/instances.ts";
import { memorySection } from "./sections/memory.ts";
import { oidcSection } from "./sections/oidc.ts";
import { platformSection } from "./sections/platform.ts";
import { policiesSection } from "./sections/policies.ts";
import { skillsSection } from "./sections/skills.ts";
import { telemetrySection } from "./sections/telemetry.ts";

const PlatformConfigObject = z.strictObject({
  ...platformSection,
  ...brokerSection,
  ...memorySection,
  ...gatewaySection,
  ...channelsSection,
  ...instancesSection,
  ...policiesSection,
  ...skillsSection,
  ...telemetrySection,
  ...oidcSection,
});

export const PlatformConfigSchema = PlatformConfigObject.superRefine(crossCheck);

/** A parsed, defaulted config: what the renderer consumes. */
export type PlatformConfig = z.infer<typeof PlatformConfigSchema>;

/** JSON Schema of knclaw.yaml, for editors (yaml-language-server) and docs. */
export function platformConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(PlatformConfigObject, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}

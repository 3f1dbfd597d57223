/**
 * Validation of rendered and hand-written Knative/Kubernetes objects: schemas (kubernetes-models,
 * @kubernetes-models/knative) plus the Knative webhook rules, and the rule helpers the config schema shares.
 */

export { type CronCheck, type CronerSchedule, checkPingSchedule, toCronerSchedule } from "../../runtime/cron.ts";
export { type IsoDuration, parseGoDuration, parseIsoDuration } from "../../runtime/duration.ts";
export { checkTimezone } from "../../runtime/timezone.ts";
export { checkCesql } from "./cesql.ts";
export { checkImageRef, parseImageRef } from "./image.ts";
export {
  type BrokerObject,
  type DeliverySpec,
  type Destination,
  type KnativeObject,
  type KReference,
  loadManifestDir,
  ManifestError,
  type ParseManifestsOptions,
  type PingSourceObject,
  parseManifests,
  type SubscriptionsAPIFilter,
  type TriggerObject,
} from "./manifests.ts";
export { type ValidateObjectsOptions, validateObject, validateObjects } from "./objects.ts";
export { DEFAULT_WEBHOOK_OPTIONS, type WebhookOptions } from "./options.ts";
export { formatProblem, type Problem, type Severity } from "./problems.ts";
export { detectLiteralSecret } from "./secrets.ts";

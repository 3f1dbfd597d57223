/**
 * Validation of rendered and hand-written Knative/Kubernetes objects: schemas (kubernetes-models,
 * @kubernetes-models/knative) plus the Knative webhook rules, and the rule helpers the config schema shares.
 */

export { checkPingSchedule, toCronerSchedule } from "../../runtime/cron.ts";
export { parseGoDuration, parseIsoDuration } from "../../runtime/duration.ts";
export { checkCesql } from "./cesql.ts";
export { isRunKind, loadManifestDir, ManifestError, parseManifests } from "./manifests.ts";
export { validateObjects } from "./objects.ts";
export type { WebhookOptions } from "./options.ts";
export { formatProblem, type Problem } from "./problems.ts";

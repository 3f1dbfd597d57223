/**
 * Command-line options `knclaw dev` and `knclaw validate --manifests` share, so both read them the same way.
 */

/**
 * An Eventing feature given on the command line (`enabled` or `disabled`); undefined when not given, so a
 * `knative-eventing/config-features` ConfigMap among the manifests (or Knative's default) decides.
 */
export function featureState(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value !== "enabled" && value !== "disabled") throw new Error(`invalid --${name} ${value}: enabled or disabled`);
  return value === "enabled";
}

/** Repeatable options (`--service a=... --service b=...`) collect their values. */
export function collectValues(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

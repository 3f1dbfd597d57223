/**
 * CloudEventOverrides (`spec.ceOverrides` of a source or SinkBinding): the extensions a source sets on every event it
 * sends. Knative's webhook (knative.dev/pkg apis/duck/v1 CloudEventOverrides.Validate) only checks that each name is
 * non-empty and alphanumeric; the CloudEvents SDK the adapters send with then applies each one with
 * `event.SetExtension` (sdk-go v2 event/eventcontext_v1.go), which lowercases the name and refuses a spec attribute
 * ("CloudEvents spec attribute MUST NOT be overwritten by extension"): the event fails validation and is never sent.
 * So an override can only add extensions, never replace `type`, `id`, `source` or `specversion`.
 */

/** The CloudEvents 1.0 context attributes (sdk-go specV1Attributes). */
const SPEC_ATTRIBUTES: ReadonlySet<string> = new Set([
  "id",
  "source",
  "type",
  "datacontenttype",
  "subject",
  "time",
  "specversion",
  "dataschema",
]);

const ALPHANUMERIC = /^[a-zA-Z0-9]+$/;

export type CeOverrideNameProblem =
  /** The webhook refuses it. */
  | { rule: "extension-name"; message: string }
  /** The webhook admits it, but the SDK refuses every event carrying it. */
  | { rule: "ce-overrides-spec-attribute"; message: string };

/** Why an override name can never be set on an event, or undefined when it can. */
export function ceOverrideNameProblem(name: string): CeOverrideNameProblem | undefined {
  if (name === "") return { rule: "extension-name", message: `invalid key name "": keys MUST NOT be empty` };
  if (!ALPHANUMERIC.test(name)) {
    return {
      rule: "extension-name",
      message: `invalid key name ${JSON.stringify(name)}: keys are expected to be alphanumeric`,
    };
  }
  if (SPEC_ATTRIBUTES.has(name.toLowerCase())) {
    return {
      rule: "ce-overrides-spec-attribute",
      message: `${JSON.stringify(name)} is a CloudEvents spec attribute: overrides may only add extensions (Knative's CloudEvents SDK refuses to overwrite a spec attribute, so no event would be sent)`,
    };
  }
  return undefined;
}

/** The attribute name the SDK sets: names are lowercased (SetExtension). */
export function ceOverrideAttributeName(name: string): string {
  return name.toLowerCase();
}

/**
 * Building blocks the config sections share. Every refinement carries `params.rule`, the short name of the rule
 * a ConfigIssue reports (`secret-ref`, `duration`, `image-ref`, ...).
 */
import { z } from "zod";
import { parseGoDuration, parseIsoDuration } from "../../runtime/duration.ts";
import { checkImageRef } from "../validate/image.ts";
import { checkDns1123Subdomain } from "../validate/names.ts";

export function ruleParams(rule: string): { params: { rule: string } } {
  return { params: { rule } };
}

/**
 * Names of instances, skills, policies: they become parts of Kubernetes object names (`agent-<name>`,
 * `agent-<name>-approval-decided`) that must stay within 63 characters, and CloudEvent extension values.
 */
export const ComponentName = z
  .string()
  .max(40, { message: "at most 40 characters (object names derived from it must fit in 63)", ...ruleParams("name") })
  .refine((v) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(v), {
    message: "lowercase letters, digits and '-', starting and ending with a letter or digit",
    ...ruleParams("name"),
  });

export const KubernetesName = z
  .string()
  .min(1)
  .refine((v) => checkDns1123Subdomain(v) === undefined, {
    message: "a Kubernetes object name (DNS-1123 subdomain)",
    ...ruleParams("name"),
  });

/**
 * A reference to one key of a Kubernetes Secret. Secret values never appear in knclaw.yaml: rendered objects carry
 * `secretKeyRef`s, and a literal string where a reference is expected is an error.
 */
export const SecretRef = z
  .preprocess(
    (value, ctx) => {
      if (typeof value === "string") {
        ctx.addIssue({
          code: "custom",
          input: value,
          message: "secret values are never inlined: use a Secret reference { secret: <name>, key: <key> }",
          params: { rule: "secret-ref" },
        });
        return z.NEVER;
      }
      return value;
    },
    z.strictObject({
      secret: KubernetesName.describe("Name of the Secret in the platform namespace."),
      key: z
        .string()
        .refine((v) => /^[-._a-zA-Z0-9]{1,253}$/.test(v), {
          message: "a Secret data key",
          ...ruleParams("secret-ref"),
        })
        .describe("Key inside the Secret."),
    }),
  )
  .meta({
    id: "SecretRef",
    description:
      "A reference to one key of a Kubernetes Secret in the platform namespace; secret values never appear in knclaw.yaml.",
  });
export type SecretRef = z.infer<typeof SecretRef>;

/** ISO-8601 duration as Eventing's DeliverySpec takes it (`PT0.2S`, `PT30S`, `PT1M`); non-negative. */
export const IsoDuration = z.string().refine(
  (v) => {
    const d = parseIsoDuration(v);
    return d !== undefined && !d.negative;
  },
  { message: "an ISO-8601 duration such as PT0.2S, PT30S or PT1M", ...ruleParams("duration") },
);

/** Go duration as Serving's autoscaling annotations take it (`30s`, `1m30s`); non-negative. */
const GoDuration = z.string().refine(
  (v) => {
    const ms = parseGoDuration(v);
    return ms !== undefined && ms >= 0;
  },
  { message: "a Go duration such as 30s, 90s or 1m30s", ...ruleParams("duration") },
);

/** An image reference; a digest-pinned one (`name@sha256:...`) is preferred and `validate` warns about the others. */
export const ImageRef = z.string().superRefine((value, ctx) => {
  const check = checkImageRef(value);
  if (!check.ok) ctx.addIssue({ code: "custom", input: value, message: check.message, params: { rule: "image-ref" } });
});

const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|([eE][-+]?\d+))?$/;
const Quantity = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .refine((v) => QUANTITY.test(v), {
    message: "a Kubernetes quantity such as 100m, 0.5, 128Mi",
    ...ruleParams("quantity"),
  });

export const Resources = z.strictObject({
  requests: z.strictObject({ cpu: Quantity.optional(), memory: Quantity.optional() }).optional(),
  limits: z.strictObject({ cpu: Quantity.optional(), memory: Quantity.optional() }).optional(),
});
export type Resources = z.infer<typeof Resources>;

/** KNCLAW_* and K_* names belong to the platform (knclaw's wiring, Knative's runtime contract), PORT to Knative. */
const EnvName = z
  .string()
  .refine((v) => /^[A-Z_][A-Z0-9_]*$/.test(v), {
    message: "an environment variable name: A-Z, 0-9 and _",
    ...ruleParams("env-name"),
  })
  .refine((v) => !/^(KNCLAW_|K_)/.test(v) && v !== "PORT", {
    message: "KNCLAW_*, K_* and PORT are set by the platform",
    ...ruleParams("env-reserved"),
  });

/**
 * The Knative Service knobs every function accepts; unset fields fall back to `defaults` (platform section),
 * then to knclaw's built-in defaults.
 */
export const KsvcKnobs = z
  .strictObject({
    image: ImageRef.optional().describe("Image override for this one function."),
    minScale: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("`autoscaling.knative.dev/min-scale`; 0 lets the function scale to zero."),
    maxScale: z.number().int().min(0).optional().describe("`autoscaling.knative.dev/max-scale`; 0 means unlimited."),
    initialScale: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("`autoscaling.knative.dev/initial-scale`; 0 needs the cluster's allow-zero-initial-scale."),
    target: z
      .number()
      .min(0.01)
      .optional()
      .describe("`autoscaling.knative.dev/target` (requests in flight or per second per pod)."),
    metric: z.enum(["concurrency", "rps"]).optional().describe("`autoscaling.knative.dev/metric`."),
    window: GoDuration.optional().describe("`autoscaling.knative.dev/window`, 6s to 1h."),
    scaleDownDelay: GoDuration.optional().describe("`autoscaling.knative.dev/scale-down-delay`, at most 1h."),
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .optional()
      .describe("Per-request timeout; Knative's cluster maximum is usually 600."),
    containerConcurrency: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .optional()
      .describe("Requests one pod serves at once; 0 = unlimited."),
    resources: Resources.optional(),
    env: z.record(EnvName, z.string()).optional().describe("Extra plain (non-secret) environment variables."),
    secretEnv: z
      .record(EnvName, SecretRef)
      .optional()
      .describe("Extra environment variables from Secrets (rendered as secretKeyRef)."),
  })
  .meta({
    id: "KsvcKnobs",
    description:
      "The Knative Service knobs every function accepts; unset fields fall back to `defaults`, then to knclaw's built-in defaults.",
  });
export type KsvcKnobs = z.infer<typeof KsvcKnobs>;

const Port = z.number().int().min(1).max(65535);

/**
 * One egress allowance for a function's NetworkPolicy. A `host` cannot be expressed in a plain NetworkPolicy: it is
 * rendered as public-internet egress (private ranges excluded) on its ports and recorded in the policy's
 * `knclaw.dev/egress-hosts` annotation for an FQDN-aware enforcer.
 */
export const EgressRule = z
  .strictObject({
    host: z
      .string()
      .refine((v) => /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(v), {
        message: "a DNS host name such as api.example.com",
        ...ruleParams("egress"),
      })
      .optional(),
    cidr: z
      .string()
      .refine((v) => /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/.test(v), {
        message: "a CIDR such as 10.0.0.0/24",
        ...ruleParams("egress"),
      })
      .optional(),
    /** An in-cluster namespace, or `*` for every namespace. */
    namespace: z
      .string()
      .refine((v) => v === "*" || checkDns1123Subdomain(v) === undefined, {
        message: "a namespace name or *",
        ...ruleParams("egress"),
      })
      .optional(),
    podLabels: z.record(z.string(), z.string()).optional(),
    ports: z.array(Port).min(1).default([443]),
    protocol: z.enum(["TCP", "UDP"]).default("TCP"),
  })
  .superRefine((rule, ctx) => {
    const targets = [rule.host, rule.cidr, rule.namespace].filter((v) => v !== undefined).length;
    if (targets !== 1) {
      ctx.addIssue({
        code: "custom",
        input: rule,
        message: "exactly one of host, cidr or namespace",
        params: { rule: "egress" },
      });
    }
    if (rule.podLabels !== undefined && rule.namespace === undefined) {
      ctx.addIssue({
        code: "custom",
        input: rule,
        path: ["podLabels"],
        message: "podLabels need a namespace",
        params: { rule: "egress" },
      });
    }
  })
  .meta({
    id: "EgressRule",
    description:
      "One egress allowance of a function's default-deny NetworkPolicy: exactly one of `host`, `cidr` or `namespace`. A host becomes public-internet egress (private ranges excluded) on its ports, and is recorded in the policy's `knclaw.dev/egress-hosts` annotation for an FQDN-aware enforcer.",
  });
export type EgressRule = z.infer<typeof EgressRule>;

/** An Eventing Destination: a Kubernetes object (resolved to its address) or an absolute URL. */
export const Destination = z
  .strictObject({
    ref: z
      .strictObject({
        apiVersion: z.string().min(1),
        kind: z.string().min(1),
        name: KubernetesName,
        namespace: KubernetesName.optional(),
      })
      .optional(),
    uri: z.string().optional(),
  })
  .superRefine((dest, ctx) => {
    if (dest.ref === undefined && dest.uri === undefined) {
      ctx.addIssue({ code: "custom", input: dest, message: "expected ref or uri", params: { rule: "destination" } });
    }
    if (dest.uri !== undefined) {
      let url: URL | undefined;
      try {
        url = new URL(dest.uri);
      } catch {
        url = undefined;
      }
      if (dest.ref === undefined && (url === undefined || url.host === "")) {
        ctx.addIssue({
          code: "custom",
          input: dest,
          path: ["uri"],
          message: "an absolute URL (or give a ref)",
          params: { rule: "destination" },
        });
      }
      if (dest.ref !== undefined && url !== undefined) {
        ctx.addIssue({
          code: "custom",
          input: dest,
          path: ["uri"],
          message: "an absolute URI is not allowed together with ref",
          params: { rule: "destination" },
        });
      }
    }
  })
  .meta({
    id: "Destination",
    description:
      "An Eventing Destination: a Kubernetes object (`ref`, resolved to its address) or an absolute URL (`uri`).",
  });
export type Destination = z.infer<typeof Destination>;

/** Eventing DeliverySpec knobs (docs/knative-semantics.md, "Delivery"). */
export const Delivery = z
  .strictObject({
    retry: z.number().int().min(0).max(100).optional().describe("Extra attempts after the first."),
    backoffPolicy: z.enum(["linear", "exponential"]).optional(),
    backoffDelay: IsoDuration.optional(),
    /** Per-attempt timeout; must be more than zero. */
    timeout: IsoDuration.refine((v) => (parseIsoDuration(v)?.ms ?? 0) > 0, {
      message: "a timeout must be more than zero",
      ...ruleParams("duration"),
    }).optional(),
  })
  .meta({
    id: "Delivery",
    description:
      "Eventing DeliverySpec knobs. Without `backoffPolicy` or `backoffDelay` retries are immediate; a Trigger's delivery replaces the Broker's wholesale.",
  });
export type Delivery = z.infer<typeof Delivery>;

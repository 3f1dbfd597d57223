/**
 * Section `platform`: the document header (`apiVersion`, `kind`, `metadata`), where images come from, the ksvc
 * defaults every function inherits, and the cluster facts NetworkPolicies need.
 */
import { z } from "zod";
import { checkDns1123Label } from "../../validate/names.ts";
import { ComponentName, EgressRule, ImageRef, KsvcKnobs, ruleParams } from "../primitives.ts";

export const API_VERSION = "knclaw.dev/v1alpha1";
const KIND = "Platform";

const Namespace = z.string().refine((v) => checkDns1123Label(v) === undefined, {
  message: "a namespace name (DNS-1123 label)",
  ...ruleParams("name"),
});

const Metadata = z.strictObject({
  name: ComponentName.default("knclaw").describe(
    "Name of this platform; labels every rendered object (`app.kubernetes.io/instance`).",
  ),
  namespace: Namespace.default("knclaw").describe("Namespace every object is rendered into."),
  createNamespace: z
    .boolean()
    .default(true)
    .describe("Render the Namespace object too (turn off when the namespace is managed elsewhere)."),
});

const Images = z.strictObject({
  registry: z
    .string()
    .refine((v) => /^[a-zA-Z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/.test(v), {
      message: "a registry host with an optional path",
      ...ruleParams("image-ref"),
    })
    .optional()
    .describe("Prefix for relative references, e.g. `ghcr.io/knclaw` + `agent@sha256:...`."),
  default: ImageRef.optional().describe(
    "The image for functions without their own entry (one image holding every function; the container is told which one to run by KNCLAW_ENTRY).",
  ),
  functions: z
    .record(z.string().regex(/^[a-z0-9-]+$/), ImageRef)
    .default({})
    .describe(
      "Per-function images keyed by function name (`agent-ops`, `channel-slack`, `skill-github`, `memory`, `gateway`, `deadletter`) or by kind (`agent`, `channel`, `skill`). Digest-pinned references are preferred.",
    ),
});

const Network = z.strictObject({
  egressPolicies: z
    .boolean()
    .default(true)
    .describe("Render a default-deny egress NetworkPolicy per function with its allow-list."),
  dns: z
    .strictObject({
      namespace: Namespace.default("kube-system").describe("Namespace of the cluster DNS pods."),
      podLabels: z
        .record(z.string(), z.string())
        .default({ "k8s-app": "kube-dns" })
        .describe("Labels of the cluster DNS pods."),
    })
    .prefault({})
    .describe("Where cluster DNS runs, for the DNS allowance."),
  eventingNamespace: Namespace.default("knative-eventing").describe(
    "Namespace of Knative Eventing (the broker ingress lives there).",
  ),
  servingNamespace: Namespace.default("knative-serving").describe(
    "Namespace of Knative Serving (the activator answers for scaled-to-zero services).",
  ),
  ingressNamespace: Namespace.default("kourier-system").describe(
    "Namespace of the cluster-local gateway of Knative's network layer (kourier-system, istio-system, ...).",
  ),
  apiServer: z
    .strictObject({ cidr: z.string(), ports: z.array(z.number().int().min(1).max(65535)).default([443, 6443]) })
    .optional()
    .describe(
      "Kubernetes API server address, for skills with RBAC rules; without it they may reach any address on 443/6443.",
    ),
  clusterDomain: z.string().default("cluster.local").describe("Cluster DNS domain used in service URLs."),
  egress: z.array(EgressRule).default([]).describe("Extra egress every function gets (e.g. an OTLP collector)."),
});

export const platformSection = {
  apiVersion: z.literal(API_VERSION, { message: `must be ${API_VERSION}` }),
  kind: z.literal(KIND, { message: `must be ${KIND}` }),
  metadata: Metadata.prefault({}),
  images: Images.prefault({}).describe(
    "Where each function's image comes from. A cluster needs one per function (`knclaw render`, `validate` and `deploy` say which lack one; an image lock from `knclaw image build --push` fills `default`); `knclaw dev` pulls nothing and needs none.",
  ),
  defaults: KsvcKnobs.omit({ image: true })
    .prefault({})
    .describe("ksvc knobs every function starts from (images come from `images`)."),
  network: Network.prefault({}),
};

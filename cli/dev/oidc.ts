import type { JWK } from "jose";
import type { Log } from "../../eventing/broker/log.ts";
import { describeObject, isRecord, type KnativeObject, namespaceOf } from "../../eventing/broker/objects.ts";
import { BrokerAdmission, type DefaultAuthorizationMode } from "../../eventing/broker/oidc/admission.ts";
import {
  type CompiledEventPolicy,
  compileEventPolicy,
  type EventPolicyRef,
} from "../../eventing/broker/oidc/event-policies.ts";
import { generateIssuerKey, importIssuerKey, type SigningKey, TokenIssuer } from "../../eventing/broker/oidc/issuer.ts";
import type { CompiledTrigger } from "../../eventing/broker/trigger.ts";
import { knativeAudience, knativeOidcServiceAccount, serviceAccountSubject } from "../../runtime/knative-oidc.ts";
import type { TokenVerifier } from "../../runtime/oidc/verifier.ts";
import { platformEnv } from "../../runtime/platform-env.ts";
import { classifyUrl } from "./cluster-url.ts";
import { IdentityFiles } from "./identity-files.ts";
import type { DevObjects } from "./objects.ts";
import type { GeneratedSecretStore } from "./secret-store.ts";

/**
 * `knclaw dev` as a cluster with Knative Eventing's `authentication-oidc` feature on, the API server's part included:
 * - the issuer (eventing/broker/oidc/issuer.ts) serves its discovery document and public keys on the dev port
 *   (`/.well-known/openid-configuration`, `/openid/v1/jwks`); its signing key is a generated secret, kept by the
 *   secret store (`knclaw dev`: in the state directory, 0600), so a restart keeps trust;
 * - every delivery carries a token for its target's audience issued to the Trigger's identity, every PingSource tick
 *   one issued to the PingSource's (the brokers and the scheduler ask `tokens`);
 * - each Broker's ingress authenticates senders and enforces the EventPolicies that apply to it, or the default
 *   authorization mode (eventing/broker/oidc/admission.ts);
 * - each function gets the env a cluster would give it (functionEnv): the audience its `POST /` requires, this
 *   issuer, and a token file holding an identity token of its ServiceAccount for its Broker, refreshed before expiry.
 */
export interface DevOidcOptions {
  /** Knative's `default-authorization-mode` for every namespace (Knative's default: allow-same-namespace). */
  defaultAuthorizationMode?: DefaultAuthorizationMode;
}

const ISSUER_KEY_ID = "oidc-issuer-key";
/** The paths the Kubernetes API server serves them at. */
const DISCOVERY_PATH = "/.well-known/openid-configuration";
const JWKS_PATH = "/openid/v1/jwks";

export class DevOidc {
  readonly mode: DefaultAuthorizationMode;
  /** Every EventPolicy loaded, Ready or not. */
  readonly policies: readonly CompiledEventPolicy[];
  private readonly signing: SigningKey;
  private readonly log: Log;
  private bound: { issuer: TokenIssuer; verifier: TokenVerifier; files: IdentityFiles } | undefined;

  private constructor(signing: SigningKey, policies: CompiledEventPolicy[], mode: DefaultAuthorizationMode, log: Log) {
    this.signing = signing;
    this.policies = policies;
    this.mode = mode;
    this.log = log;
  }

  /** Reads (or makes and keeps) the signing key and the EventPolicies; nothing is served until `bind`. */
  static async load(
    objects: DevObjects,
    secrets: GeneratedSecretStore,
    options: DevOidcOptions,
    log: Log,
  ): Promise<DevOidc> {
    let stored = secrets.get(ISSUER_KEY_ID);
    if (stored === undefined) {
      stored = JSON.stringify(await generateIssuerKey());
      secrets.set(ISSUER_KEY_ID, stored);
    }
    let jwk: unknown;
    try {
      jwk = JSON.parse(stored);
    } catch {
      // JSON.parse's message quotes its input: the key.
      throw new Error(`the stored ${ISSUER_KEY_ID} is not a JWK: remove it to start with a new issuer key`);
    }
    const signing = await importIssuerKey(jwk as JWK);
    const resolve = subjectResolver(objects);
    const policies = objects.eventPolicies.map((object) => compileEventPolicy(object, resolve));
    for (const policy of policies) {
      if (policy.notReady !== undefined) {
        log.warn(
          { eventPolicy: `${policy.namespace}/${policy.name}`, reason: policy.notReady },
          "EventPolicy not Ready: it does not apply (Knative applies Ready policies only)",
        );
      }
    }
    return new DevOidc(signing, policies, options.defaultAuthorizationMode ?? "allow-same-namespace", log);
  }

  /** The issuer, once the dev port is known: its URL is the dev server's. */
  bind(url: string): TokenIssuer {
    const issuer = new TokenIssuer(url, this.signing);
    const files = new IdentityFiles((subject, audience) => issuer.mint(subject, audience), this.log, Date.now);
    this.bound = { issuer, verifier: issuer.verifier(), files };
    return issuer;
  }

  get issuer(): TokenIssuer {
    return this.session().issuer;
  }

  private session(): NonNullable<DevOidc["bound"]> {
    if (this.bound === undefined) throw new Error("the dev OIDC issuer is used before the dev port is known");
    return this.bound;
  }

  /** What the brokers and the PingSource scheduler ask for each delivery. */
  readonly tokens = (subject: string, audience: string): string | Promise<string> =>
    this.issuer.tokenFor(subject, audience);

  /** The discovery document or the key set, for a GET of their path; undefined for any other path. */
  wellKnown(path: string): unknown {
    if (path === DISCOVERY_PATH) return this.issuer.discovery();
    if (path === JWKS_PATH) return this.issuer.jwks();
    return undefined;
  }

  /** Who may post to a Broker: its audience, its Ready applying policies, the default mode. */
  admissionFor(broker: KnativeObject): BrokerAdmission {
    const namespace = namespaceOf(broker);
    const labels = broker.metadata.labels ?? {};
    return new BrokerAdmission({
      namespace,
      audience: brokerAudience(namespace, broker.metadata.name),
      // The ingress only takes requests once the port is bound.
      verifier: { verify: (token, audience) => this.session().verifier.verify(token, audience) },
      policies: this.policies.filter(
        (policy) =>
          policy.namespace === namespace &&
          policy.notReady === undefined &&
          policy.appliesToBroker(broker.metadata.name, labels),
      ),
      mode: this.mode,
    });
  }

  /**
   * Sets the delivery-authentication env of a ksvc (runtime/platform-env.ts) in `env`: its audience (what the render
   * gave it, else Knative's for its ksvc), the senders it takes deliveries from (what the render gave it, else the
   * identities of the Triggers that deliver to it, dead-letter deliveries included), this issuer and its keys (the
   * render's point at the cluster), and, when its sink has an audience, its identity token file; a rendered token file
   * path (a cluster's volume) goes.
   */
  async applyFunctionEnv(
    service: KnativeObject,
    env: Record<string, string>,
    sinkAudience: string | undefined,
    triggers: readonly CompiledTrigger[],
  ) {
    const namespace = namespaceOf(service);
    const name = service.metadata.name;
    const names = platformEnv.names;
    env[names.deliveryAudience] ??= knativeAudience({ group: "serving.knative.dev", kind: "Service", namespace, name });
    const senders = deliverersTo(namespace, name, triggers);
    // None: no Trigger delivers here, and an empty list would refuse to start.
    if (env[names.deliverySenders] === undefined && senders.length > 0) env[names.deliverySenders] = senders.join(",");
    env[names.oidcIssuer] = this.issuer.issuer;
    env[names.oidcJwksUrl] = this.issuer.jwksUrl;
    delete env[names.oidcJwksTokenFile];
    delete env[names.oidcJwksCaFile];
    delete env[names.oidcTokenFile];
    if (sinkAudience !== undefined) {
      const subject = serviceAccountSubject(namespace, serviceAccountOf(service));
      env[names.oidcTokenFile] = await this.session().files.add(`${namespace}.${name}`, subject, sinkAudience);
    }
  }

  close(): void {
    this.bound?.files.close();
  }
}

function brokerAudience(namespace: string, name: string): string {
  return knativeAudience({ group: "eventing.knative.dev", kind: "Broker", namespace, name });
}

/** The identities of the Triggers whose subscriber or dead-letter sink is this ksvc. */
function deliverersTo(namespace: string, name: string, triggers: readonly CompiledTrigger[]): string[] {
  const isService = (url: string | undefined) => {
    if (url === undefined) return false;
    const target = classifyUrl(new URL(url));
    return target.kind === "service" && target.namespace === namespace && target.name === name;
  };
  const identities = triggers
    .filter((trigger) => isService(trigger.subscriber) || isService(trigger.delivery.deadLetterSink))
    .map((trigger) => trigger.identity);
  return [...new Set(identities)];
}

/** The ksvc's ServiceAccount, as its pod would run under (`default` when it names none). */
function serviceAccountOf(service: KnativeObject): string {
  const spec = isRecord(service.spec) ? service.spec : {};
  const template = isRecord(spec.template) ? spec.template : {};
  const podSpec = isRecord(template.spec) ? template.spec : {};
  return typeof podSpec.serviceAccountName === "string" && podSpec.serviceAccountName !== ""
    ? podSpec.serviceAccountName
    : "default";
}

/**
 * What a `from.ref` stands for, as Knative resolves it through the object's `status.auth`: the OIDC ServiceAccount
 * Knative makes for a Trigger, a Subscription or a Source (pkg/auth/serviceaccount.go), provided the object exists
 * among the loaded ones. Anything else (a ServiceAccount, a Knative Service) has no `status.auth`: not resolved.
 */
function subjectResolver(objects: DevObjects): (ref: EventPolicyRef) => string[] | undefined {
  const OIDC_KINDS = new Set(["eventing.knative.dev/Trigger", "messaging.knative.dev/Subscription"]);
  const loaded = new Set(
    [...objects.triggers, ...objects.pingSources, ...objects.sinkBindings, ...objects.ignored].map(
      (object) => `${object.apiVersion}/${describeObject(object)}`,
    ),
  );
  return (ref) => {
    const group = ref.apiVersion.includes("/") ? ref.apiVersion.slice(0, ref.apiVersion.indexOf("/")) : "";
    if (!OIDC_KINDS.has(`${group}/${ref.kind}`) && group !== "sources.knative.dev") return undefined;
    if (!loaded.has(`${ref.apiVersion}/${ref.kind} ${ref.namespace}/${ref.name}`)) return undefined;
    return [serviceAccountSubject(ref.namespace, knativeOidcServiceAccount({ group, kind: ref.kind, name: ref.name }))];
  };
}

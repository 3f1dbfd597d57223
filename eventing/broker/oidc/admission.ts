import { parseBearer } from "../../../runtime/bearer.ts";
import { MAX_TOKEN_LENGTH, TokenRejected, type TokenVerifier } from "../../../runtime/oidc/verifier.ts";
import type { CloudEvent } from "../../cloudevent/event.ts";
import { type CompiledEventPolicy, subjectAndFiltersPass } from "./event-policies.ts";

/**
 * Who may post to a Broker, decided as Knative's broker ingress decides with `authentication-oidc` enabled
 * (pkg/broker/ingress/ingress_handler.go calling pkg/auth/verifier.go, VerifyRequest), after the event was decoded:
 * - authentication: no token, or a token that is not valid for the Broker's audience, is a 401;
 * - authorization: with EventPolicies applying to the Broker (Ready ones, by name), the sender's subject must be
 *   allowed by the first policy listing it, and the event must pass that policy's filters, else 403; with none, the
 *   namespace's `default-authorization-mode`: `allow-all`, `deny-all` (403), or `allow-same-namespace` (Knative's
 *   default: 403 unless the subject is a ServiceAccount of the Broker's namespace).
 * A subscriber's reply re-enters the Broker as the delivering Trigger's OIDC identity (the broker filter sends it with
 * that identity's token), so replies are authorized by the same rules.
 */
export type DefaultAuthorizationMode = "allow-all" | "allow-same-namespace" | "deny-all";
export const DEFAULT_AUTHORIZATION_MODES: readonly DefaultAuthorizationMode[] = [
  "allow-all",
  "allow-same-namespace",
  "deny-all",
];

export interface Refusal {
  status: 401 | 403;
  reason: string;
}

export interface BrokerAdmissionOptions {
  namespace: string;
  /** The Broker's audience (`eventing.knative.dev/broker/<namespace>/<name>`): senders' tokens must carry it. */
  audience: string;
  verifier: TokenVerifier;
  /** The Ready EventPolicies that apply to this Broker. */
  policies: readonly CompiledEventPolicy[];
  mode: DefaultAuthorizationMode;
}

export class BrokerAdmission {
  readonly audience: string;
  readonly mode: DefaultAuthorizationMode;
  readonly policies: readonly CompiledEventPolicy[];
  private readonly namespace: string;
  private readonly verifier: TokenVerifier;

  constructor(options: BrokerAdmissionOptions) {
    this.namespace = options.namespace;
    this.audience = options.audience;
    this.verifier = options.verifier;
    this.mode = options.mode;
    this.policies = [...options.policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** An outside sender: its token, then its subject and event. Undefined when the event may go in. */
  async admit(authorization: string | null, event: CloudEvent): Promise<Refusal | undefined> {
    const token = parseBearer(authorization, MAX_TOKEN_LENGTH);
    if (token === undefined)
      return { status: 401, reason: "no bearer token: the broker takes events from authenticated senders" };
    let subject: string;
    try {
      subject = (await this.verifier.verify(token, this.audience)).subject;
    } catch (error) {
      if (error instanceof TokenRejected)
        return { status: 401, reason: "the bearer token is not valid for this broker" };
      throw error;
    }
    return this.authorize(subject, event);
  }

  /** A known subject (a reply, sent as its Trigger's identity). Undefined when the event may go in. */
  authorize(subject: string, event: CloudEvent): Refusal | undefined {
    if (this.policies.length > 0) {
      if (subjectAndFiltersPass(subject, this.policies, event.attributes)) return undefined;
      return { status: 403, reason: `${subject} may not send this event: no applying EventPolicy allows it` };
    }
    switch (this.mode) {
      case "allow-all":
        return undefined;
      case "deny-all":
        return {
          status: 403,
          reason: "no EventPolicy applies to this broker and default-authorization-mode is deny-all",
        };
      case "allow-same-namespace":
        if (subject.startsWith(`system:serviceaccount:${this.namespace}:`)) return undefined;
        return {
          status: 403,
          reason: `no EventPolicy applies to this broker and ${subject} is not a ServiceAccount of namespace ${this.namespace}`,
        };
    }
  }
}

import { describe, expect, it } from "vitest";
import { knativeAudience, knativeOidcServiceAccount, serviceAccountSubject } from "../../runtime/knative-oidc.ts";

/** Knative's OIDC names, checked against the cases of knative/eventing pkg/auth (audience_test.go, serviceaccount_test.go). */
describe("Knative's OIDC names", () => {
  it("gives an object the audience <group>/<kind>/<namespace>/<name>, lowercased", () => {
    expect(
      knativeAudience({ group: "eventing.knative.dev", kind: "Broker", namespace: "my-ns", name: "my-Broker" }),
    ).toBe("eventing.knative.dev/broker/my-ns/my-broker");
  });

  it("names an object's OIDC ServiceAccount as Knative does, hashing a name too long for 63 characters", () => {
    expect(knativeOidcServiceAccount({ group: "group", kind: "kind", name: "name" })).toBe("name-oidc-group-kind");
    expect(knativeOidcServiceAccount({ group: "eventing.knative.dev", kind: "Broker", name: "my-Broker" })).toBe(
      "my-broker-oidc-eventing.knative.dev-broker",
    );
    expect(
      knativeOidcServiceAccount({
        group: "eventing.knative.dev",
        kind: "Broker",
        name: "my-loooooooooooooooooooooooooooooooooooooog-Broker",
      }),
    ).toBe("my-looooooooooooooooooooooooooo2dfc2a3825b8d82077b0f25518b36884");
    // A Trigger whose name and suffix fit stays readable; a PingSource's suffix is shorter than a Trigger's.
    expect(knativeOidcServiceAccount({ group: "eventing.knative.dev", kind: "Trigger", name: "skill-time" })).toBe(
      "skill-time-oidc-eventing.knative.dev-trigger",
    );
    const long = knativeOidcServiceAccount({
      group: "eventing.knative.dev",
      kind: "Trigger",
      name: "agent-assistant-message-received",
    });
    expect(long).toHaveLength(63);
    expect(long.startsWith("agent-assistant-message-receive")).toBe(true);
  });

  it("writes a ServiceAccount's token subject", () => {
    expect(serviceAccountSubject("knclaw", "agent-ops")).toBe("system:serviceaccount:knclaw:agent-ops");
  });
});

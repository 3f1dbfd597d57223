/**
 * knative/validate/secrets.ts recognizes pasted credentials by shape. Its Telegram rule once took an EventPolicy
 * sender list for a bot token: `system:serviceaccount:<namespace>:<account>` in a namespace ending in 6-12 digits,
 * with a 35-character account name (found when a test namespace's random suffix came out all digits).
 */
import { describe, expect, it } from "vitest";
import { detectLiteralSecret } from "../../../knative/validate/secrets.ts";

describe("literal secret detection", () => {
  it("recognizes a Telegram bot token wherever it is pasted", () => {
    const token = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ";
    for (const text of [token, `TELEGRAM_TOKEN=${token}`, `"${token}"`, `token: ${token}`]) {
      expect(detectLiteralSecret(text), text).toBe("Telegram bot token");
    }
  });

  it("does not take a service account subject in a numbered namespace for one", () => {
    const subjects = [
      "system:serviceaccount:oidc-07600800:gateway-run-completed-oidc-eventing.knative.dev-trigger",
      "system:serviceaccount:team.12345678:gateway-run-completed-oidc-eventing",
      "system:serviceaccount:123456789:gateway-run-completed-oidc-eventing",
    ];
    for (const subject of subjects) expect(detectLiteralSecret(subject), subject).toBeUndefined();
  });
});

import {
  type ApprovedResponse,
  ChannelName,
  DecidePairingRequest,
  LinkIdentitiesRequest,
  type ListPairingResponse,
  PairingCode,
  type PairingRecord,
  PairingRequestBody,
  type PairingResponse,
  type Person,
  SenderId,
} from "../../../clients/memory/contract/people.ts";
import { invalid, memoryError, notFound } from "../http/errors.ts";
import { readParam } from "../http/request.ts";
import { body, instanceFor, type MemoryApp, type MemoryContext, type RouteDeps } from "../http/routes.ts";
import { identityString, parseIdentity } from "./identities.ts";
import { newPairingCode, normalizePairingCode } from "./pairing-code.ts";
import type { PeopleStore, PersonRecord } from "./store.ts";

const DEFAULT_PAIRING_TTL_MS = 3_600_000;
/** Fresh codes drawn before giving up; with 32^8 codes a second draw is already rare. */
const CODE_ATTEMPTS = 5;

function personOf(record: PersonRecord): Person {
  return { person: record.person, identities: record.identities.map(parseIdentity) };
}

function identityOf(c: MemoryContext): string {
  return identityString({ channel: readParam(c, "channel", ChannelName), sender: readParam(c, "sender", SenderId) });
}

/** People type codes as they read them (`abcd-efgh`); the stored form is upper case without separators. */
function codeOf(c: MemoryContext): string {
  const result = PairingCode.safeParse(normalizePairingCode(c.req.param("code") ?? ""));
  if (!result.success) throw invalid("params.code", result.error);
  return result.data;
}

export function peopleRoutes(app: MemoryApp, people: PeopleStore, deps: RouteDeps): void {
  app.post("/v1/instances/:instance/identities/link", async (c) => {
    const instance = instanceFor(c, "identities");
    const request = await body(c, deps, LinkIdentitiesRequest);
    return c.json(personOf(await people.linkIdentities(instance, request.identities.map(identityString))));
  });

  app.get("/v1/instances/:instance/identities/:channel/:sender", async (c) => {
    const instance = instanceFor(c, "identities");
    return c.json(personOf(await people.getPerson(instance, identityOf(c))));
  });

  app.delete("/v1/instances/:instance/identities/:channel/:sender", async (c) => {
    const instance = instanceFor(c, "identities");
    return c.json(personOf(await people.unlinkIdentity(instance, identityOf(c))));
  });

  app.post("/v1/instances/:instance/pairing", async (c) => {
    const instance = instanceFor(c, "pairing");
    const request = await body(c, deps, PairingRequestBody);
    const now = deps.now();
    for (let attempt = 0; attempt < CODE_ATTEMPTS; attempt++) {
      const record: PairingRecord = {
        code: newPairingCode(),
        channel: request.channel,
        sender: request.sender,
        ...(request.displayName === undefined ? {} : { displayName: request.displayName }),
        status: "pending",
        createdAt: now,
        expiresAt: now + (request.ttlMs ?? DEFAULT_PAIRING_TTL_MS),
      };
      const outcome = await people.requestPairing(instance, {
        identity: identityString(request),
        record,
        now,
        maxPending: deps.config.maxPendingPairings,
      });
      if (outcome.kind === "collision") continue;
      if (outcome.kind === "full") {
        throw memoryError(429, "too_many_pending", "too many pairing requests are pending for this instance");
      }
      const answer: PairingResponse =
        outcome.kind === "approved"
          ? { status: "approved" }
          : {
              status: "pending",
              code: outcome.record.code,
              expiresAt: outcome.record.expiresAt,
              created: outcome.created,
            };
      return c.json(answer, outcome.kind === "pending" && outcome.created ? 201 : 200);
    }
    throw memoryError(500, "internal", "could not draw an unused pairing code");
  });

  app.get("/v1/instances/:instance/pairing", async (c) => {
    const instance = instanceFor(c, "pairing");
    const answer: ListPairingResponse = { pending: await people.listPairing(instance, deps.now()) };
    return c.json(answer);
  });

  for (const decision of ["approved", "denied"] as const) {
    const verb = decision === "approved" ? "approve" : "deny";
    app.post(`/v1/instances/:instance/pairing/:code/${verb}`, async (c) => {
      const instance = instanceFor(c, "pairing");
      const code = codeOf(c);
      const request = await body(c, deps, DecidePairingRequest, true);
      const outcome = await people.decidePairing(instance, code, {
        decision,
        decidedBy: request.decidedBy ?? c.get("principal").label,
        now: deps.now(),
      });
      if (outcome.kind === "missing") throw notFound("pairing code");
      if (outcome.kind === "conflict") {
        throw memoryError(409, "conflict", `the pairing request was already ${outcome.record.status}`);
      }
      return c.json(outcome.record);
    });
  }

  app.get("/v1/instances/:instance/approved/:channel/:sender", async (c) => {
    const instance = instanceFor(c, "pairing");
    const answer: ApprovedResponse = { approved: await people.isApproved(instance, identityOf(c)) };
    return c.json(answer);
  });

  for (const [method, approved] of [
    ["put", true],
    ["delete", false],
  ] as const) {
    app[method]("/v1/instances/:instance/approved/:channel/:sender", async (c) => {
      const instance = instanceFor(c, "pairing");
      await people.setApproved(instance, identityOf(c), approved);
      const answer: ApprovedResponse = { approved };
      return c.json(answer);
    });
  }
}

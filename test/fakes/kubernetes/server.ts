/**
 * A fake Kubernetes API server: a real HTTP server on loopback that answers the endpoints the kubernetes skill uses
 * the way kube-apiserver does — typed objects with kind/apiVersion, list kinds with metadata.resourceVersion and
 * continue tokens, label and field selectors, `metav1.Status` failures with code and reason, bearer-token
 * authentication, RBAC-style authorization with the authorizer's messages, impersonation (Impersonate-User, checked
 * against `impersonate` grants on serviceaccounts), pod logs as text/plain with tailLines and limitBytes, the
 * deployments/scale subresource (autoscaling/v1 Scale), merge and strategic-merge patches, and optimistic
 * concurrency on PUT. Every request is recorded so tests can assert what reached the "cluster".
 */
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { listenOnLoopback } from "../loopback.ts";
import { containsList, mergePatch } from "./merge-patch.ts";
import { conflict, forbidden, notFound, type StatusBody, statusFailure, unauthorized } from "./status.ts";

type Obj = Record<string, unknown>;

interface ResourceType {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
}

const RESOURCE_TYPES: readonly ResourceType[] = [
  { group: "", version: "v1", resource: "pods", kind: "Pod", namespaced: true },
  { group: "", version: "v1", resource: "services", kind: "Service", namespaced: true },
  { group: "", version: "v1", resource: "events", kind: "Event", namespaced: true },
  { group: "", version: "v1", resource: "secrets", kind: "Secret", namespaced: true },
  { group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true },
  { group: "", version: "v1", resource: "nodes", kind: "Node", namespaced: false },
  { group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false },
  { group: "apps", version: "v1", resource: "deployments", kind: "Deployment", namespaced: true },
  { group: "apps", version: "v1", resource: "statefulsets", kind: "StatefulSet", namespaced: true },
];

interface Grant {
  user: string;
  /** Omitted: cluster-wide (a ClusterRoleBinding). */
  namespace?: string;
  group: string;
  /** `pods`, `pods/log`, `deployments/scale`, ... */
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  user?: string;
  impersonateUser?: string;
  contentType?: string;
  body?: unknown;
  status: number;
}

interface Injected {
  match: (request: { method: string; path: string }) => boolean;
  status: StatusBody;
  headers?: Record<string, string>;
}

export interface FakeKubernetes {
  url: string;
  /** A kubeconfig (YAML) whose current context talks to this server with `token`. */
  kubeconfig(token: string, namespace?: string): string;
  requests: RecordedRequest[];
  add(resource: string, object: Obj): void;
  get(resource: string, namespace: string | undefined, name: string): Obj | undefined;
  setLog(namespace: string, pod: string, container: string, text: string, previous?: boolean): void;
  /** A bearer token and the user it authenticates. */
  addToken(token: string, user: string): void;
  grant(grant: Grant): void;
  /** Let `user` impersonate service account `namespace/name` (verb impersonate on serviceaccounts). */
  allowImpersonation(user: string, namespace: string, name: string): void;
  /** Answer the next request that matches with this Status (fault injection for 409, 429, 500, ...). */
  failNext(match: Injected["match"], status: StatusBody, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

const CONTINUE_PREFIX = "fake-continue:";
const tlsFile = (name: string) => readFileSync(new URL(`./tls/${name}`, import.meta.url));
/** The CA the fake's server certificate chains to (PEM), for kubeconfigs and clients. */
const FAKE_CA_PEM = tlsFile("ca.crt").toString("utf8");

export async function startFakeKubernetes(): Promise<FakeKubernetes> {
  const store = new Map<string, Obj>();
  const logs = new Map<string, string>();
  const tokens = new Map<string, string>();
  const grants: Grant[] = [];
  const requests: RecordedRequest[] = [];
  const injected: Injected[] = [];
  let resourceVersion = 1000;

  const typeOf = (resource: string): ResourceType => {
    const type = RESOURCE_TYPES.find((t) => t.resource === resource);
    if (!type) throw new Error(`fake kubernetes: unknown resource ${resource}`);
    return type;
  };
  const key = (type: ResourceType, namespace: string | undefined, name: string) =>
    `${type.group}|${type.resource}|${type.namespaced ? (namespace ?? "") : ""}|${name}`;
  const bump = (object: Obj) => {
    resourceVersion += 1;
    (object.metadata as Obj).resourceVersion = String(resourceVersion);
  };

  const allowed = (
    user: string,
    verb: string,
    group: string,
    resource: string,
    namespace: string | undefined,
    name?: string,
  ) =>
    grants.some(
      (g) =>
        g.user === user &&
        g.group === group &&
        g.resources.includes(resource) &&
        g.verbs.includes(verb) &&
        (g.namespace === undefined || g.namespace === namespace) &&
        (g.resourceNames === undefined || (name !== undefined && g.resourceNames.includes(name))),
    );

  // TLS like a real API server: the kubeconfig pins the test CA, so the client verifies the certificate.
  const server: Server = createServer({ cert: tlsFile("server.crt"), key: tlsFile("server.key") }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      handle(req, res, raw);
    });
  });

  function send(
    res: ServerResponse,
    record: RecordedRequest,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) {
    record.status = status;
    requests.push(record);
    if (typeof body === "string") {
      res.writeHead(status, { "content-type": "text/plain", ...headers }).end(body);
      return;
    }
    res
      .writeHead(status, { "content-type": "application/json", "audit-id": crypto.randomUUID(), ...headers })
      .end(JSON.stringify(body));
  }

  function handle(req: IncomingMessage, res: ServerResponse, raw: string) {
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
    };
    const contentType = req.headers["content-type"];
    if (contentType) record.contentType = contentType.split(";")[0]!.trim();
    if (raw !== "") {
      try {
        record.body = JSON.parse(raw);
      } catch {
        record.body = raw;
      }
    }
    const fail = (status: StatusBody, headers?: Record<string, string>) =>
      send(res, record, status.code, status, headers);

    const authorization = req.headers.authorization ?? "";
    const authenticated = authorization.startsWith("Bearer ") ? tokens.get(authorization.slice(7)) : undefined;
    if (authenticated === undefined) return fail(unauthorized());
    record.user = authenticated;
    let user = authenticated;
    const impersonate = req.headers["impersonate-user"];
    if (typeof impersonate === "string") {
      record.impersonateUser = impersonate;
      const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(impersonate);
      const permitted = sa
        ? allowed(authenticated, "impersonate", "", "serviceaccounts", sa[1], sa[2])
        : allowed(authenticated, "impersonate", "", "users", undefined, impersonate);
      if (!permitted) {
        return fail(
          sa
            ? forbidden(authenticated, "impersonate", "serviceaccounts", undefined, "", sa[1], sa[2])
            : forbidden(authenticated, "impersonate", "users", undefined, "", undefined, impersonate),
        );
      }
      user = impersonate;
    }

    const injectedIndex = injected.findIndex((i) => i.match({ method, path: url.pathname }));
    if (injectedIndex >= 0) {
      const [hit] = injected.splice(injectedIndex, 1);
      return fail(hit!.status, hit!.headers);
    }

    const route = parsePath(url.pathname);
    if (!route) return fail(statusFailure(404, "NotFound", "the server could not find the requested resource"));
    const type = RESOURCE_TYPES.find(
      (t) => t.group === route.group && t.version === route.version && t.resource === route.resource,
    );
    if (!type || type.namespaced !== (route.namespace !== undefined)) {
      return fail(statusFailure(404, "NotFound", "the server could not find the requested resource"));
    }
    const verb =
      method === "GET"
        ? route.name === undefined
          ? "list"
          : "get"
        : method === "PATCH"
          ? "patch"
          : method === "PUT"
            ? "update"
            : method === "DELETE"
              ? "delete"
              : method === "POST"
                ? "create"
                : "";
    if (verb === "")
      return fail(
        statusFailure(405, "MethodNotAllowed", `the server does not allow this method on the requested resource`),
      );
    const authzResource = route.subresource ? `${type.resource}/${route.subresource}` : type.resource;
    if (!allowed(user, verb, type.group, authzResource, route.namespace, route.name)) {
      return fail(forbidden(user, verb, type.resource, route.subresource, type.group, route.namespace, route.name));
    }

    if (route.name === undefined) {
      if (verb !== "list")
        return fail(
          statusFailure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"),
        );
      return send(res, record, 200, list(type, route.namespace, url.searchParams));
    }
    const objectKey = key(type, route.namespace, route.name);
    const object = store.get(objectKey);
    if (!object) return fail(notFound(type.resource, type.group, route.name));

    if (route.subresource === "log" && type.resource === "pods" && verb === "get") {
      return podLog(res, record, object, url.searchParams, (status) => fail(status));
    }
    if (route.subresource === "scale" && type.resource === "deployments") {
      if (verb === "get") return send(res, record, 200, scaleOf(object));
      if (verb === "patch" || verb === "update") {
        const body = record.body as Obj | undefined;
        if (verb === "update") {
          const rv = (body?.metadata as Obj | undefined)?.resourceVersion;
          if (rv !== undefined && rv !== (object.metadata as Obj).resourceVersion)
            return fail(conflict(type.resource, type.group, route.name));
        } else {
          const problem = patchProblem(record.contentType, body);
          if (problem) return fail(problem);
        }
        const scale = verb === "update" ? body : (mergePatch(scaleOf(object), body) as Obj);
        const replicas = (scale?.spec as Obj | undefined)?.replicas;
        if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
          return fail(
            statusFailure(
              422,
              "Invalid",
              `Scale.autoscaling "${route.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
              {
                name: route.name,
                group: "autoscaling",
                kind: "Scale",
                causes: [
                  {
                    reason: "FieldValueInvalid",
                    message: "must be greater than or equal to 0",
                    field: "spec.replicas",
                  },
                ],
              },
            ),
          );
        }
        (object.spec as Obj).replicas = replicas;
        bump(object);
        return send(res, record, 200, scaleOf(object));
      }
    }
    if (route.subresource !== undefined)
      return fail(statusFailure(404, "NotFound", "the server could not find the requested resource"));

    if (verb === "get") return send(res, record, 200, typed(type, object));
    if (verb === "patch") {
      const problem = patchProblem(record.contentType, record.body);
      if (problem) return fail(problem);
      const patched = mergePatch(object, record.body) as Obj;
      // What the server owns stays the server's: identity and status cannot be patched through the main resource.
      patched.metadata = { ...(patched.metadata as Obj), name: route.name, uid: (object.metadata as Obj).uid };
      patched.status = object.status;
      if (JSON.stringify(patched.spec) !== JSON.stringify(object.spec)) {
        (patched.metadata as Obj).generation = Number((object.metadata as Obj).generation ?? 1) + 1;
      }
      bump(patched);
      store.set(objectKey, patched);
      return send(res, record, 200, typed(type, patched));
    }
    if (verb === "delete") {
      store.delete(objectKey);
      const deleted = structuredClone(object);
      (deleted.metadata as Obj).deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      (deleted.metadata as Obj).deletionGracePeriodSeconds = Number(url.searchParams.get("gracePeriodSeconds") ?? 30);
      return send(res, record, 200, typed(type, deleted));
    }
    return fail(
      statusFailure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"),
    );
  }

  function patchProblem(contentType: string | undefined, body: unknown): StatusBody | undefined {
    if (contentType !== "application/merge-patch+json" && contentType !== "application/strategic-merge-patch+json") {
      return statusFailure(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
      );
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return statusFailure(
        400,
        "BadRequest",
        "error decoding patch: json: cannot unmarshal into Go value of type map[string]interface {}",
      );
    }
    if (contentType === "application/strategic-merge-patch+json" && containsList(body)) {
      return statusFailure(
        415,
        "UnsupportedMediaType",
        "fake kubernetes: strategic merge patches with lists are not implemented",
      );
    }
    return undefined;
  }

  function typed(type: ResourceType, object: Obj): Obj {
    return {
      kind: type.kind,
      apiVersion: type.group === "" ? type.version : `${type.group}/${type.version}`,
      ...structuredClone(object),
    };
  }

  function scaleOf(deployment: Obj): Obj {
    const metadata = deployment.metadata as Obj;
    const selector = ((deployment.spec as Obj).selector as Obj).matchLabels as Record<string, string>;
    return {
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: {
        name: metadata.name,
        namespace: metadata.namespace,
        uid: metadata.uid,
        resourceVersion: metadata.resourceVersion,
        creationTimestamp: metadata.creationTimestamp,
      },
      spec: { replicas: (deployment.spec as Obj).replicas },
      status: {
        replicas: (deployment.status as Obj).replicas,
        selector: Object.entries(selector)
          .map(([k, v]) => `${k}=${v}`)
          .join(","),
      },
    };
  }

  function list(type: ResourceType, namespace: string | undefined, params: URLSearchParams): Obj {
    const labelSelector = params.get("labelSelector") ?? "";
    const fieldSelector = params.get("fieldSelector") ?? "";
    const matches = [...store.entries()]
      .filter(([k]) => k.startsWith(`${type.group}|${type.resource}|${type.namespaced ? (namespace ?? "") : ""}|`))
      .map(([, object]) => object)
      .filter((object) => matchLabels(labelSelector, ((object.metadata as Obj).labels ?? {}) as Record<string, string>))
      .filter((object) => matchFields(fieldSelector, object))
      .sort((a, b) => String((a.metadata as Obj).name).localeCompare(String((b.metadata as Obj).name)));
    const start = params.get("continue")?.startsWith(CONTINUE_PREFIX)
      ? Number(params.get("continue")!.slice(CONTINUE_PREFIX.length))
      : 0;
    const limit = Number(params.get("limit") ?? "0");
    const page = limit > 0 ? matches.slice(start, start + limit) : matches.slice(start);
    const metadata: Obj = { resourceVersion: String(resourceVersion) };
    if (limit > 0 && start + limit < matches.length) {
      metadata.continue = `${CONTINUE_PREFIX}${start + limit}`;
      metadata.remainingItemCount = matches.length - start - limit;
    }
    return {
      kind: `${type.kind}List`,
      apiVersion: type.group === "" ? type.version : `${type.group}/${type.version}`,
      metadata,
      items: page.map((object) => structuredClone(object)),
    };
  }

  function podLog(
    res: ServerResponse,
    record: RecordedRequest,
    pod: Obj,
    params: URLSearchParams,
    fail: (s: StatusBody) => void,
  ) {
    const metadata = pod.metadata as Obj;
    const containers = ((pod.spec as Obj).containers as Obj[]).map((c) => String(c.name));
    let container = params.get("container") ?? undefined;
    if (container === undefined) {
      if (containers.length !== 1) {
        return fail(
          statusFailure(
            400,
            "BadRequest",
            `a container name must be specified for pod ${metadata.name}, choose one of: [${containers.join(" ")}]`,
          ),
        );
      }
      container = containers[0]!;
    } else if (!containers.includes(container)) {
      return fail(statusFailure(400, "BadRequest", `container ${container} is not valid for pod ${metadata.name}`));
    }
    const previous = params.get("previous") === "true";
    const text = logs.get(`${metadata.namespace}/${metadata.name}/${container}/${previous ? "previous" : "current"}`);
    if (text === undefined) {
      if (previous) {
        return fail(
          statusFailure(
            400,
            "BadRequest",
            `previous terminated container "${container}" in pod "${metadata.name}" not found`,
          ),
        );
      }
      return send(res, record, 200, "");
    }
    let out = text;
    const tail = params.get("tailLines");
    if (tail !== null) {
      const n = Number(tail);
      const lines = out.split("\n");
      const trailingNewline = out.endsWith("\n");
      if (trailingNewline) lines.pop();
      out = lines.slice(Math.max(0, lines.length - n)).join("\n") + (trailingNewline && n > 0 ? "\n" : "");
    }
    const limitBytes = params.get("limitBytes");
    if (limitBytes !== null) out = Buffer.from(out).subarray(0, Number(limitBytes)).toString("utf8");
    send(res, record, 200, out);
  }

  const { port, close } = await listenOnLoopback(server);
  const url = `https://127.0.0.1:${port}`;

  return {
    url,
    requests,
    kubeconfig(token, namespace = "default") {
      return [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: fake",
        "  cluster:",
        `    server: ${url}`,
        `    certificate-authority-data: ${Buffer.from(FAKE_CA_PEM).toString("base64")}`,
        "users:",
        "- name: skill",
        "  user:",
        `    token: ${token}`,
        "contexts:",
        "- name: fake",
        "  context:",
        "    cluster: fake",
        "    user: skill",
        `    namespace: ${namespace}`,
        "current-context: fake",
        "",
      ].join("\n");
    },
    add(resource, object) {
      const type = typeOf(resource);
      const metadata = object.metadata as Obj;
      bump(object);
      store.set(key(type, metadata.namespace as string | undefined, String(metadata.name)), structuredClone(object));
    },
    get(resource, namespace, name) {
      const found = store.get(key(typeOf(resource), namespace, name));
      return found ? structuredClone(found) : undefined;
    },
    setLog(namespace, pod, container, text, previous = false) {
      logs.set(`${namespace}/${pod}/${container}/${previous ? "previous" : "current"}`, text);
    },
    addToken(token, user) {
      tokens.set(token, user);
    },
    grant(grant) {
      grants.push(grant);
    },
    allowImpersonation(user, namespace, name) {
      grants.push({
        user,
        namespace,
        group: "",
        resources: ["serviceaccounts"],
        verbs: ["impersonate"],
        resourceNames: [name],
      });
    },
    failNext(match, status, headers) {
      injected.push({ match, status, ...(headers ? { headers } : {}) });
    },
    close,
  };
}

interface Route {
  group: string;
  version: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
}

function parsePath(path: string): Route | undefined {
  const parts = path
    .split("/")
    .filter((p) => p !== "")
    .map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === "api" && parts[1] === "v1") {
    group = "";
    version = "v1";
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 3) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 3) return undefined;
  const route: Route = { group, version, resource: rest[0]! };
  if (namespace !== undefined) route.namespace = namespace;
  if (rest[1] !== undefined) route.name = rest[1];
  if (rest[2] !== undefined) route.subresource = rest[2];
  return route;
}

/** Equality-based and existence selectors (`app=web,tier!=db,canary,!legacy`), as the skill passes them through. */
function matchLabels(selector: string, labels: Record<string, string>): boolean {
  if (selector.trim() === "") return true;
  return selector.split(",").every((raw) => {
    const term = raw.trim();
    const neq = term.split("!=");
    if (neq.length === 2) return labels[neq[0]!.trim()] !== neq[1]!.trim();
    const eq = term.split(/==?/);
    if (eq.length === 2) return labels[eq[0]!.trim()] === eq[1]!.trim();
    if (term.startsWith("!")) return !(term.slice(1) in labels);
    return term in labels;
  });
}

function matchFields(selector: string, object: Obj): boolean {
  if (selector.trim() === "") return true;
  return selector.split(",").every((raw) => {
    const negated = raw.includes("!=");
    const [path, expected] = raw.split(negated ? "!=" : /==?/) as [string, string];
    let value: unknown = object;
    for (const part of path.trim().split(".")) value = (value as Obj | undefined)?.[part];
    const equal = String(value ?? "") === expected.trim();
    return negated ? !equal : equal;
  });
}

/** `metav1.Status` failures exactly as the API server writes them (kind, apiVersion, status, message, reason, details, code). */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: Array<{ reason: string; message: string; field?: string }>;
  retryAfterSeconds?: number;
}

export interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

export function statusFailure(code: number, reason: string, message: string, details?: StatusDetails): StatusBody {
  const body: StatusBody = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
  if (details !== undefined) body.details = details;
  return body;
}

/** `pods "web-1" not found`, `deployments.apps "web" not found`. */
export function notFound(resource: string, group: string, name: string): StatusBody {
  const qualified = group === "" ? resource : `${resource}.${group}`;
  const details: StatusDetails = { name, kind: resource };
  if (group !== "") details.group = group;
  return statusFailure(404, "NotFound", `${qualified} "${name}" not found`, details);
}

/** The authorizer's wording: `pods "web-1" is forbidden: User "u" cannot get resource "pods" in API group "" in the namespace "ns"`. */
export function forbidden(
  user: string,
  verb: string,
  resource: string,
  subresource: string | undefined,
  group: string,
  namespace: string | undefined,
  name: string | undefined,
): StatusBody {
  const qualified = group === "" ? resource : `${resource}.${group}`;
  const subject = name === undefined ? qualified : `${qualified} "${name}"`;
  const full = subresource === undefined ? resource : `${resource}/${subresource}`;
  const where = namespace === undefined ? "at the cluster scope" : `in the namespace "${namespace}"`;
  const details: StatusDetails = { kind: resource };
  if (name !== undefined) details.name = name;
  if (group !== "") details.group = group;
  return statusFailure(
    403,
    "Forbidden",
    `${subject} is forbidden: User "${user}" cannot ${verb} resource "${full}" in API group "${group}" ${where}`,
    details,
  );
}

export function conflict(resource: string, group: string, name: string): StatusBody {
  const qualified = group === "" ? resource : `${resource}.${group}`;
  const details: StatusDetails = { name, kind: resource };
  if (group !== "") details.group = group;
  return statusFailure(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    details,
  );
}

export const unauthorized = (): StatusBody => statusFailure(401, "Unauthorized", "Unauthorized");

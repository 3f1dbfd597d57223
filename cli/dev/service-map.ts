/**
 * `knclaw dev --service [NAMESPACE/]NAME=URL`: where a Service that does not run under knclaw dev answers, so
 * Knative manifests that name it (a Trigger's subscriber, a PingSource's sink, a dead-letter sink) work as written.
 * A delivery to the Service's cluster address (`http://NAME.NAMESPACE.svc.cluster.local/PATH`) goes to URL + PATH.
 * NAME alone maps that name in every namespace. A Knative Service and the Kubernetes Service of the same name are the
 * same address on a cluster (Serving creates one for each ksvc), so one mapping covers refs to either.
 */
export interface ServiceMap {
  /** What is given for this Service (its base URL; for `--run`, its command), or undefined. */
  lookup(namespace: string, name: string): string | undefined;
  /** Every mapping as given, for the listing. */
  readonly entries: readonly { namespace?: string; name: string; value: string }[];
}

export class ServiceMapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ServiceMapError";
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const EMPTY_SERVICE_MAP: ServiceMap = { lookup: () => undefined, entries: [] };

/** Parse the `--service` values; throws ServiceMapError naming the bad one (never echoing a URL's credentials). */
export function parseServiceMap(values: readonly string[]): ServiceMap {
  return parseTargets(values, "--service", "URL", parseBaseUrl);
}

/**
 * `knclaw dev --run [NAMESPACE/]NAME=COMMAND`: a Service of the manifests that knclaw dev starts itself, with the
 * command given (run by /bin/sh in the current directory), as a container would run it: on a free loopback port in
 * `$PORT`, with the Service's declared env, K_SERVICE and the K_SINK / K_CE_OVERRIDES of its SinkBinding. Only the
 * command line can say this: a manifest folder is data, and running a command it names would let any folder run code.
 */
export type ServiceCommands = ServiceMap;

export function parseServiceCommands(values: readonly string[]): ServiceCommands {
  return parseTargets(values, "--run", "COMMAND", (text, target) => {
    if (text.trim() === "") throw new ServiceMapError(`--run ${target}: the command is empty`);
    return text;
  });
}

function parseTargets(
  values: readonly string[],
  flag: string,
  what: string,
  parseValue: (text: string, target: string) => string,
): ServiceMap {
  const entries: { namespace?: string; name: string; value: string }[] = [];
  const byKey = new Map<string, string>();
  for (const value of values) {
    const eq = value.indexOf("=");
    const target = eq > 0 ? value.slice(0, eq) : "";
    if (target === "") throw new ServiceMapError(`${flag} needs [NAMESPACE/]NAME=${what}`);
    const parts = target.split("/");
    if (parts.length > 2 || !parts.every((part) => DNS_LABEL.test(part))) {
      throw new ServiceMapError(`${flag} ${target}: NAME and NAMESPACE must be DNS labels ([NAMESPACE/]NAME=${what})`);
    }
    const [namespace, name] = parts.length === 2 ? [parts[0], parts[1]!] : [undefined, parts[0]!];
    const parsed = parseValue(value.slice(eq + 1), target);
    const key = `${namespace ?? "*"}/${name}`;
    if (byKey.has(key)) throw new ServiceMapError(`${flag} ${target} is given twice`);
    byKey.set(key, parsed);
    entries.push(namespace === undefined ? { name, value: parsed } : { namespace, name, value: parsed });
  }
  return {
    lookup: (namespace, name) => byKey.get(`${namespace}/${name}`) ?? byKey.get(`*/${name}`),
    entries,
  };
}

function parseBaseUrl(text: string, target: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ServiceMapError(`--service ${target}: the URL must be an absolute http(s) URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ServiceMapError(`--service ${target}: the URL must be http or https`);
  }
  // Credentials in a URL end up in logs and listings: a local service that needs them must take them otherwise.
  if (url.username !== "" || url.password !== "") {
    throw new ServiceMapError(`--service ${target}: the URL must not carry credentials`);
  }
  if (url.search !== "" || url.hash !== "") {
    throw new ServiceMapError(`--service ${target}: the URL must not have a query or fragment`);
  }
  return url.href.replace(/\/+$/, "");
}

/** The URL a delivery to a mapped Service's cluster address goes to: the mapped base, then the path and query. */
export function mappedUrl(base: string, pathAndQuery: string): string {
  return `${base}${pathAndQuery.startsWith("/") ? pathAndQuery : `/${pathAndQuery}`}`;
}

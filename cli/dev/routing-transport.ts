import { createAppTransport, type FetchHandler } from "../../eventing/delivery/app-transport.ts";
import type { Transport } from "../../eventing/delivery/transport.ts";
import { TransportError } from "../../eventing/delivery/transport.ts";
import { classifyUrl } from "./cluster-url.ts";
import { mappedUrl } from "./service-map.ts";

/**
 * Where a delivery goes under `knclaw dev`: a cluster URL of a mounted ksvc to its app (no socket), the broker
 * ingress's cluster URL to the local ingress, a cluster URL of a Service `--service` maps to that URL over HTTP, any
 * other cluster URL fails like an unresolvable host would, and every other URL (a Trigger pointed at your own
 * service) goes out over HTTP.
 */
export interface RoutingTargets {
  ingress: FetchHandler;
  service(namespace: string, name: string): FetchHandler | undefined;
  /** The `--service` base URL of a Service that runs elsewhere. */
  mapped?(namespace: string, name: string): string | undefined;
}

type Route =
  | { kind: "local"; handler: FetchHandler }
  | { kind: "missing"; reason: string }
  | { kind: "http" }
  | { kind: "mapped"; url: string };

export function createRoutingTransport(targets: RoutingTargets, http: Transport): Transport {
  const cache = new Map<string, Route>();
  const routeOf = (url: string): Route => {
    const cached = cache.get(url);
    if (cached) return cached;
    let route: Route;
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    const target = parsed ? classifyUrl(parsed) : ({ kind: "external" } as const);
    if (target.kind === "broker-ingress") {
      route = { kind: "local", handler: targets.ingress };
    } else if (target.kind === "service") {
      const handler = targets.service(target.namespace, target.name);
      const base = handler ? undefined : targets.mapped?.(target.namespace, target.name);
      route = handler
        ? { kind: "local", handler }
        : base !== undefined
          ? { kind: "mapped", url: mappedUrl(base, target.path) }
          : { kind: "missing", reason: `no Service ${target.namespace}/${target.name} runs under knclaw dev` };
    } else {
      route = { kind: "http" };
    }
    if (cache.size > 10_000) cache.clear();
    cache.set(url, route);
    return route;
  };
  const local = createAppTransport((url) => {
    const route = routeOf(url);
    return route.kind === "local" ? route.handler : undefined;
  });
  return (request) => {
    const route = routeOf(request.url);
    if (route.kind === "http") return http(request);
    if (route.kind === "mapped") return http({ ...request, url: route.url });
    if (route.kind === "missing") return Promise.reject(new TransportError("network", route.reason));
    return local(request);
  };
}

/** A fetch for code running in this process: cluster URLs answered locally, the rest by global fetch. */
export function createRoutingFetch(targets: RoutingTargets): typeof fetch {
  return (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const request = new Request(input, init);
    const target = classifyUrl(new URL(request.url));
    if (target.kind === "broker-ingress") return targets.ingress.fetch(request);
    if (target.kind === "service") {
      const handler = targets.service(target.namespace, target.name);
      if (handler) return handler.fetch(request);
      const base = targets.mapped?.(target.namespace, target.name);
      if (base !== undefined) return fetch(new Request(mappedUrl(base, target.path), request));
      throw new TypeError(`fetch failed: no Service ${target.namespace}/${target.name} runs under knclaw dev`);
    }
    return fetch(request);
  }) as typeof fetch;
}

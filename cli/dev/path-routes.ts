import type { KnativeObject } from "../../eventing/broker/objects.ts";

/**
 * Which paths of the one dev port reach which function, from the ksvc's own annotations so the renderer declares
 * them (table-driven, nothing hard-coded per component):
 * - every mounted ksvc: `/functions/<ksvc>/...`, the prefix stripped (the app sees `/...`);
 * - `knclaw.dev/dev-path-prefix: "/api/v1,/v1"`: extra prefixes, forwarded with the full path (the app serves them
 *   on a cluster too), unless `knclaw.dev/dev-path-strip: "true"` asks for the prefix to be removed.
 * The longest matching prefix wins; exact broker paths (`/<ns>/<broker>`) are checked before this table. A declared
 * `/` claims the root path only (the gateway's console), so every other unknown path still gets the ingress's answer.
 */
const ANNOTATION_DEV_PATH_PREFIX = "knclaw.dev/dev-path-prefix";
const ANNOTATION_DEV_PATH_STRIP = "knclaw.dev/dev-path-strip";
const FUNCTIONS_PREFIX = "/functions";

export interface PathRoute {
  prefix: string;
  strip: boolean;
  /** `<namespace>/<ksvc>` of the target. */
  service: string;
}

export function routesFor(service: KnativeObject, namespace: string): PathRoute[] {
  const id = `${namespace}/${service.metadata.name}`;
  const routes: PathRoute[] = [{ prefix: `${FUNCTIONS_PREFIX}/${service.metadata.name}`, strip: true, service: id }];
  const annotations = service.metadata.annotations ?? {};
  const declared = annotations[ANNOTATION_DEV_PATH_PREFIX];
  if (declared) {
    const strip = annotations[ANNOTATION_DEV_PATH_STRIP] === "true";
    for (const raw of declared.split(",")) {
      const prefix = normalizePrefix(raw.trim());
      if (prefix !== undefined) routes.push({ prefix, strip, service: id });
    }
  }
  return routes;
}

function normalizePrefix(raw: string): string | undefined {
  if (raw === "") return undefined;
  const withSlash = raw.startsWith("/") ? raw : `/${raw}`;
  return withSlash === "/" ? "/" : withSlash.replace(/\/+$/, "");
}

export class PathRouter {
  private readonly routes: PathRoute[];

  constructor(routes: PathRoute[]) {
    const seen = new Map<string, string>();
    for (const route of routes) {
      const other = seen.get(route.prefix);
      if (other !== undefined && other !== route.service) {
        throw new Error(`path prefix ${route.prefix} is claimed by both ${other} and ${route.service}`);
      }
      seen.set(route.prefix, route.service);
    }
    this.routes = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  list(): readonly PathRoute[] {
    return this.routes;
  }

  /** The route for a request path and the path the function should see, or undefined. */
  match(path: string): { route: PathRoute; path: string } | undefined {
    for (const route of this.routes) {
      if (route.prefix === "/") {
        if (path === "/") return { route, path };
        continue;
      }
      if (path === route.prefix || path.startsWith(`${route.prefix}/`)) {
        const rest = path.slice(route.prefix.length);
        return { route, path: route.strip ? rest || "/" : path };
      }
    }
    return undefined;
  }
}

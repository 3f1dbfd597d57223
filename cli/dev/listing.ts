import type { DevRuntime } from "./start-dev.ts";

/** What `knclaw dev` prints at start: where every broker, function, route, Trigger and PingSource is. */
export function describeRuntime(runtime: DevRuntime): string[] {
  const lines = [`knclaw dev listening on ${runtime.url}`];
  if (runtime.brokers.length > 0) {
    lines.push("", "Brokers (POST CloudEvents here; OPTIONS for the WebHook handshake):");
    for (const broker of runtime.brokers) lines.push(`  ${broker.namespace}/${broker.name}  ${broker.url}`);
    lines.push(`  accepted deliveries: ${runtime.brokerStore}`);
  }
  if (runtime.functions.length > 0) {
    lines.push("", "Functions (cluster URL -> local URL):");
    for (const fn of runtime.functions) {
      const where = fn.mounted.childUrl ? `child process ${fn.mounted.childUrl}` : "in-process";
      lines.push(`  ${fn.namespace}/${fn.name}  ${fn.clusterUrl} -> ${fn.localUrl}/  (${where})`);
      const extra = fn.paths.filter((route) => !route.prefix.startsWith("/functions/"));
      for (const route of extra) {
        lines.push(
          `      also ${runtime.url}${route.prefix === "/" ? "/" : `${route.prefix}/...`}${route.strip ? " (prefix stripped)" : ""}`,
        );
      }
    }
  }
  if (runtime.oidc) {
    const oidc = runtime.oidc;
    lines.push(
      "",
      "OIDC (Knative's authentication-oidc, emulated): tokens on every delivery, senders checked at the brokers",
      `  issuer ${oidc.issuer.issuer}  keys ${oidc.issuer.jwksUrl}`,
      `  default-authorization-mode ${oidc.mode}`,
    );
    for (const policy of oidc.policies) {
      const state = policy.notReady === undefined ? "" : `  (not Ready: ${policy.notReady})`;
      lines.push(`  EventPolicy ${policy.namespace}/${policy.name}${state}`);
    }
  }
  if (runtime.mappedServices.length > 0) {
    lines.push("", "Services elsewhere (--service: deliveries to their cluster URL go there):");
    for (const mapped of runtime.mappedServices) {
      lines.push(
        `  ${mapped.namespace ? `${mapped.namespace}/` : "(any namespace)/"}${mapped.name} -> ${mapped.value}`,
      );
    }
  }
  if (runtime.skippedServices.length > 0) {
    lines.push("", "Services not run (no knclaw.dev/entry annotation; map one with --service NAME=URL):");
    for (const name of runtime.skippedServices) lines.push(`  ${name}`);
  }
  if (runtime.notRun.length > 0) {
    lines.push("", "Not run by knclaw dev (admitted, listed only):");
    for (const name of runtime.notRun) lines.push(`  ${name}`);
  }
  if (runtime.notReady.length > 0) {
    lines.push("", "Not Ready (admitted, but doing nothing until their references resolve):");
    for (const object of runtime.notReady) {
      const acting = object.acting ? " (subscribed all the same, as on a cluster)" : "";
      lines.push(`  ${object.object}  ${object.condition}=False ${object.reason}: ${object.message}${acting}`);
    }
  }
  if (runtime.triggers.length > 0) {
    lines.push("", "Triggers (broker -> subscriber):");
    for (const trigger of runtime.triggers) {
      const broker =
        trigger.brokerNamespace === trigger.namespace ? trigger.broker : `${trigger.brokerNamespace}/${trigger.broker}`;
      lines.push(`  ${trigger.namespace}/${trigger.name}  ${broker} -> ${trigger.subscriber}`);
    }
  }
  if (runtime.pingSources.length > 0) {
    lines.push("", "PingSources:");
    for (const ping of runtime.pingSources) {
      const next = runtime.pings.nextRun(ping.namespace, ping.name);
      lines.push(
        `  ${ping.namespace}/${ping.name}  "${ping.schedule.pattern}" ${ping.schedule.timezone ?? "UTC"} -> ${ping.sink}${next ? `  (next ${next.toISOString()})` : ""}`,
      );
    }
  }
  return lines;
}

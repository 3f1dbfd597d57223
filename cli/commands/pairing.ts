import type { Command } from "commander";
import { type GatewayClient, type GatewayOptions, gatewayClient } from "../gateway-client.ts";

/**
 * `knclaw pairing list|approve|deny`: the pairing queue of unknown chat senders, through the gateway's API
 * (/api/v1/instances/<instance>/pairing). URL and token as every gateway command finds them (cli/gateway-client.ts:
 * --url / KNCLAW_GATEWAY_URL / the local `knclaw dev` port; --token-file / KNCLAW_GATEWAY_TOKEN / the dev session's
 * file, never a flag value). Without --instance, the code is looked up on every instance.
 */
export interface PairingOptions extends GatewayOptions {
  instance?: string;
}

export interface PendingPairing {
  code: string;
  channel: string;
  sender: string;
  displayName?: string;
  expiresAt: number;
}

const seg = encodeURIComponent;

function normalizeCode(code: string): string {
  const normalized = code.replace(/[\s-]/g, "").toUpperCase();
  if (!/^[A-HJ-NP-Z2-9]{8}$/.test(normalized)) throw new Error(`${code} is not a pairing code (8 letters and digits)`);
  return normalized;
}

async function instances(api: GatewayClient, options: PairingOptions): Promise<string[]> {
  if (options.instance !== undefined) return [options.instance];
  const models = await api.get<{ data: Array<{ id: string }> }>("/v1/models");
  return models.data.map((model) => model.id.replace(/^knclaw:/, ""));
}

export async function listPairing(options: PairingOptions): Promise<Array<PendingPairing & { instance: string }>> {
  const api = gatewayClient(options);
  const out: Array<PendingPairing & { instance: string }> = [];
  for (const instance of await instances(api, options)) {
    const answer = await api.get<{ pending: PendingPairing[] }>(`/api/v1/instances/${seg(instance)}/pairing`);
    for (const pending of answer.pending) out.push({ ...pending, instance });
  }
  return out;
}

export async function decidePairing(
  verb: "approve" | "deny",
  code: string,
  options: PairingOptions,
): Promise<{ instance: string; code: string; channel: string; sender: string; status: string }> {
  const normalized = normalizeCode(code);
  const api = gatewayClient(options);
  let instance = options.instance;
  if (instance === undefined) {
    const match = (await listPairing(options)).find((pending) => pending.code === normalized);
    if (match === undefined) throw new Error(`no pending pairing request has code ${normalized}`);
    instance = match.instance;
  }
  const answer = await api.post<{ pairing: { code: string; channel: string; sender: string; status: string } }>(
    `/api/v1/instances/${seg(instance)}/pairing/${normalized}/${verb}`,
  );
  return { instance, ...answer.pairing };
}

export function registerPairingCommand(program: Command): void {
  const pairing = program
    .command("pairing")
    .description("approve or deny chat senders who asked to pair (through the gateway API)");
  const common = (command: Command) =>
    command
      .option("--url <url>", "gateway base URL (default $KNCLAW_GATEWAY_URL or the local knclaw dev port)")
      .option("-i, --instance <name>", "the agent instance (default: look the code up on every instance)")
      .option(
        "--token-file <file>",
        "read the gateway token from this file (default $KNCLAW_GATEWAY_TOKEN, else knclaw dev's session file)",
      );
  common(pairing.command("list").description("list pending pairing requests")).action(
    async (options: PairingOptions) => {
      const pending = await listPairing(options);
      if (pending.length === 0) {
        process.stdout.write("no pending pairing requests\n");
        return;
      }
      for (const p of pending) {
        const who = p.displayName ? `${p.sender} (${p.displayName})` : p.sender;
        process.stdout.write(
          `${p.code}  ${p.instance}  ${p.channel}  ${who}  expires ${new Date(p.expiresAt).toISOString()}\n`,
        );
      }
    },
  );
  for (const verb of ["approve", "deny"] as const) {
    common(pairing.command(`${verb} <code>`).description(`${verb} a pending pairing request by its code`)).action(
      async (code: string, options: PairingOptions) => {
        const result = await decidePairing(verb, code, options);
        process.stdout.write(
          `${result.status}: ${result.channel} ${result.sender} may ${verb === "approve" ? "now" : "not"} talk to ${result.instance}\n`,
        );
      },
    );
  }
}

import { promises as dns, type LookupAddress } from "node:dns";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { assertAddressAllowed, denied, type Target, type UnsafeTestAllowance } from "./target-guard.ts";

/** Resolves a host name to addresses; injectable so tests control DNS answers without real DNS. */
export type Resolver = (hostname: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

export const systemResolver: Resolver = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net/tls that resolves with the injected resolver and refuses the whole answer if any address in it
 * is blocked: picking the "good" address out of a mixed answer would let an attacker's DNS race us with the bad one.
 */
function guardedLookup(resolver: Resolver, port: number, allowance: UnsafeTestAllowance) {
  return (hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void => {
    resolver(hostname).then(
      (answers) => {
        if (answers.length === 0)
          return callback(Object.assign(new Error(`${hostname} has no addresses`), { code: "ENOTFOUND" }), []);
        try {
          for (const answer of answers) assertAddressAllowed(answer.address, port, allowance);
        } catch (error) {
          return callback(error as NodeJS.ErrnoException, []);
        }
        const family =
          options.family === 6 || options.family === "IPv6"
            ? 6
            : options.family === 4 || options.family === "IPv4"
              ? 4
              : 0;
        const usable = family === 0 ? answers : answers.filter((answer) => answer.family === family);
        if (usable.length === 0)
          return callback(
            Object.assign(new Error(`${hostname} has no IPv${family} address`), { code: "ENOTFOUND" }),
            [],
          );
        if (options.all)
          return callback(
            null,
            usable.map((a) => ({ address: a.address, family: a.family })),
          );
        callback(null, usable[0]!.address, usable[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, []),
    );
  };
}

export interface ConnectOptions {
  resolver: Resolver;
  allowance: UnsafeTestAllowance;
  /** Extra trust anchors (tests with a self-signed server); the system store is used otherwise. */
  ca?: string | Buffer;
}

/**
 * A `createConnection` for node:http that only hands the socket to the HTTP client once it is connected and the
 * peer address — the address actually connected to, after DNS — has passed the address policy. No request byte is
 * written before that check.
 */
export function guardedConnection(target: Target, options: ConnectOptions) {
  return (_requestOptions: unknown, oncreate: (error: Error | null, socket?: Socket) => void): undefined => {
    const lookup = guardedLookup(options.resolver, target.port, options.allowance);
    const host = target.literal ?? target.host;
    const socket: Socket =
      target.scheme === "https:"
        ? tlsConnect({
            host,
            port: target.port,
            lookup,
            ALPNProtocols: ["http/1.1"],
            ...(target.literal === undefined ? { servername: target.host } : {}),
            ...(options.ca !== undefined ? { ca: options.ca } : {}),
          })
        : netConnect({ host, port: target.port, lookup });
    const onError = (error: Error) => oncreate(error);
    socket.once("error", onError);
    socket.once(target.scheme === "https:" ? "secureConnect" : "connect", () => {
      const remote = socket.remoteAddress;
      try {
        if (remote === undefined) throw denied("could not determine the connected address");
        assertAddressAllowed(remote, target.port, options.allowance);
      } catch (error) {
        socket.destroy();
        return oncreate(error as Error);
      }
      socket.off("error", onError);
      oncreate(null, socket);
    });
    return undefined;
  };
}

import { isIP } from "node:net";

/**
 * Which IP addresses an outbound request may connect to. The http skill talks to the public internet only: loopback,
 * private (RFC 1918), carrier-grade NAT, link-local (where cloud metadata lives), reserved, multicast and their IPv6
 * equivalents are refused — including IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4), since
 * a stack may route those to the embedded address.
 */
export type BlockReason =
  | "unspecified"
  | "loopback"
  | "private"
  | "cgnat"
  | "link-local"
  | "cloud-metadata"
  | "reserved"
  | "multicast"
  | "unique-local"
  | "not-an-ip";

interface Range {
  base: bigint;
  bits: number;
  reason: BlockReason;
}

const IPV4_RANGES: readonly Range[] = [
  v4("0.0.0.0", 8, "unspecified"),
  v4("10.0.0.0", 8, "private"),
  v4("100.64.0.0", 10, "cgnat"),
  v4("127.0.0.0", 8, "loopback"),
  v4("169.254.0.0", 16, "link-local"),
  v4("172.16.0.0", 12, "private"),
  v4("192.0.0.0", 24, "reserved"),
  v4("192.0.2.0", 24, "reserved"),
  v4("192.88.99.0", 24, "reserved"),
  v4("192.168.0.0", 16, "private"),
  v4("198.18.0.0", 15, "reserved"),
  v4("198.51.100.0", 24, "reserved"),
  v4("203.0.113.0", 24, "reserved"),
  v4("224.0.0.0", 4, "multicast"),
  v4("240.0.0.0", 4, "reserved"),
  // Azure's wireserver / metadata endpoint is a public address reachable from every Azure VM.
  v4("168.63.129.16", 32, "cloud-metadata"),
];

const IPV6_RANGES: readonly Range[] = [
  v6("::", 128, "unspecified"),
  v6("::1", 128, "loopback"),
  v6("100::", 64, "reserved"),
  v6("2001:db8::", 32, "reserved"),
  // Teredo embeds an obfuscated IPv4 address; nothing legitimate for a skill to reach lives there.
  v6("2001::", 32, "reserved"),
  v6("fc00::", 7, "unique-local"),
  v6("fe80::", 10, "link-local"),
  v6("fec0::", 10, "private"),
  v6("ff00::", 8, "multicast"),
];

/** IPv6 prefixes that carry an IPv4 address: [prefix, prefix length, bit offset of the embedded address]. */
const EMBEDDING_V4: ReadonlyArray<readonly [bigint, number, number]> = [
  [parseV6("::ffff:0:0")!, 96, 96], // IPv4-mapped
  [parseV6("::")!, 96, 96], // IPv4-compatible (deprecated, still routed by some stacks)
  [parseV6("::ffff:0:0:0")!, 96, 96], // SIIT IPv4-translated
  [parseV6("64:ff9b::")!, 96, 96], // NAT64 well-known prefix
  [parseV6("64:ff9b:1::")!, 48, 96], // NAT64 local-use prefix
  [parseV6("2002::")!, 16, 16], // 6to4
];

/** The reason an address must not be connected to, or undefined when it is a public unicast address. */
export function blockedAddressReason(address: string): BlockReason | undefined {
  const bare = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  const family = isIP(bare.split("%", 1)[0]!);
  if (family === 4) return v4Reason(parseV4(bare)!);
  if (family === 6) {
    // A zone index (`fe80::1%eth0`) only exists on link-local addresses, which are blocked below anyway.
    const value = parseV6(bare.split("%", 1)[0]!)!;
    for (const [prefix, bits, offset] of EMBEDDING_V4) {
      if (inRange(value, prefix, bits, 128)) {
        const embedded = Number((value >> BigInt(128 - offset - 32)) & 0xffffffffn);
        // `::` and `::1` sit inside the IPv4-compatible prefix; they are judged as IPv6 below.
        if (prefix === 0n && embedded <= 1) break;
        return v4Reason(BigInt(embedded)) ?? (prefix === 0n ? "reserved" : undefined);
      }
    }
    if (METADATA_V6.has(value)) return "cloud-metadata";
    for (const range of IPV6_RANGES) if (inRange(value, range.base, range.bits, 128)) return range.reason;
    return undefined;
  }
  return "not-an-ip";
}

/** Metadata endpoints inside ranges blocked anyway, named so refusals say what they stopped. */
const METADATA_V4 = new Set([parseV4("169.254.169.254")!, parseV4("100.100.100.200")!]);
const METADATA_V6 = new Set([parseV6("fd00:ec2::254")!]);

function v4Reason(value: bigint): BlockReason | undefined {
  if (METADATA_V4.has(value)) return "cloud-metadata";
  for (const range of IPV4_RANGES) if (inRange(value, range.base, range.bits, 32)) return range.reason;
  return undefined;
}

function inRange(value: bigint, base: bigint, bits: number, width: number): boolean {
  const shift = BigInt(width - bits);
  return value >> shift === base >> shift;
}

function v4(address: string, bits: number, reason: BlockReason): Range {
  return { base: parseV4(address)!, bits, reason };
}

function v6(address: string, bits: number, reason: BlockReason): Range {
  return { base: parseV6(address)!, bits, reason };
}

/** Dotted-quad only: callers pass addresses that node:net already recognised as IPv4. */
function parseV4(address: string): bigint | undefined {
  const parts = address.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function parseV6(address: string): bigint | undefined {
  let text = address.toLowerCase();
  // A trailing dotted quad (`::ffff:127.0.0.1`) is two 16-bit groups written differently.
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const quad = parseV4(text.slice(lastColon + 1));
    if (quad === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(quad >> 16n).toString(16)}:${(quad & 0xffffn).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  let value = 0n;
  for (const group of all) {
    if (!/^[0-9a-f]{1,4}$/.test(group)) return undefined;
    value = (value << 16n) | BigInt(`0x${group}`);
  }
  return value;
}

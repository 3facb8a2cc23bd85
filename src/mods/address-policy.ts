import { BlockList, isIP } from 'node:net';

/**
 * Which IP addresses a download may connect to. Addresses arrive as strings in every spelling a URL parser or a
 * resolver can produce (`::ffff:7f00:1` for 127.0.0.1, `0:0:0:0:0:ffff:…`, `64:ff9b::a00:1` for 10.0.0.1 through
 * NAT64), so nothing here looks at the text: node's `BlockList` parses each address with inet_pton and matches it
 * against subnets. A hand-written prefix test (`startsWith('::ffff:')`) is what let the hex-mapped form of
 * loopback through before.
 */

/** Returns why `address` may not be connected to, or undefined when it may. */
export type AddressPolicy = (address: string) => string | undefined;

interface Rule {
  readonly name: string;
  readonly list: BlockList;
}

function rule(name: string, network: string, prefix: number, family: 'ipv4' | 'ipv6'): Rule {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { name: `${name} (${network}/${prefix})`, list };
}

/**
 * The IANA IPv4 Special-Purpose Address Registry, less the entries it marks globally reachable (AS112, AMT),
 * which are ordinary hosts on the internet. Octets rather than strings so the IPv6 embeddings below are derived
 * from the same numbers without parsing anything. Narrower entries come first so a refusal names the most
 * specific range.
 */
const IPV4_SPECIAL: readonly { name: string; octets: readonly [number, number, number, number]; prefix: number }[] = [
  { name: 'this network', octets: [0, 0, 0, 0], prefix: 8 },
  { name: 'private', octets: [10, 0, 0, 0], prefix: 8 },
  { name: 'shared address space (CGNAT)', octets: [100, 64, 0, 0], prefix: 10 },
  { name: 'loopback', octets: [127, 0, 0, 0], prefix: 8 },
  { name: 'link-local (cloud metadata)', octets: [169, 254, 0, 0], prefix: 16 },
  { name: 'private', octets: [172, 16, 0, 0], prefix: 12 },
  { name: 'IETF protocol assignments', octets: [192, 0, 0, 0], prefix: 24 },
  { name: 'documentation (TEST-NET-1)', octets: [192, 0, 2, 0], prefix: 24 },
  { name: '6to4 relay anycast', octets: [192, 88, 99, 0], prefix: 24 },
  { name: 'private', octets: [192, 168, 0, 0], prefix: 16 },
  { name: 'benchmarking', octets: [198, 18, 0, 0], prefix: 15 },
  { name: 'documentation (TEST-NET-2)', octets: [198, 51, 100, 0], prefix: 24 },
  { name: 'documentation (TEST-NET-3)', octets: [203, 0, 113, 0], prefix: 24 },
  { name: 'multicast', octets: [224, 0, 0, 0], prefix: 4 },
  { name: 'limited broadcast', octets: [255, 255, 255, 255], prefix: 32 },
  { name: 'reserved', octets: [240, 0, 0, 0], prefix: 4 },
];

// Checked with type 'ipv6', BlockList also matches these IPv4 rules against IPv4-mapped addresses (::ffff:a.b.c.d
// in any spelling), so one list covers both families; the unit tests pin that behaviour of node.
const V4_RULES: readonly Rule[] = IPV4_SPECIAL.map((r) => rule(r.name, r.octets.join('.'), r.prefix, 'ipv4'));

function hex16(high: number, low: number): string {
  return ((high << 8) | low).toString(16);
}

/**
 * Prefixes that carry an IPv4 address inside an IPv6 one and that a host may really route: NAT64's well-known
 * prefix (RFC 6052: the v4 address in the last 32 bits) and 6to4 (RFC 3056: in bits 16-47). An IPv6-only host
 * with DNS64 gets 64:ff9b:: answers for ordinary public names, so these are judged by the address they embed.
 */
const EMBEDDED_RULES: readonly Rule[] = IPV4_SPECIAL.flatMap(({ name, octets: [a, b, c, d], prefix }) => [
  rule(`NAT64 of ${name}`, `64:ff9b::${a}.${b}.${c}.${d}`, 96 + prefix, 'ipv6'),
  rule(`6to4 of ${name}`, `2002:${hex16(a, b)}:${hex16(c, d)}::`, 16 + prefix, 'ipv6'),
]);

/** Where the embedded IPv4 address alone decides (IPv4-mapped, NAT64 well-known prefix). */
const TRANSLATED = new BlockList();
TRANSLATED.addSubnet('::ffff:0:0', 96, 'ipv6');
TRANSLATED.addSubnet('64:ff9b::', 96, 'ipv6');

/** The IANA IPv6 Special-Purpose Address Registry entries refused whatever follows the prefix. */
const V6_RULES: readonly Rule[] = [
  rule('unspecified', '::', 128, 'ipv6'),
  rule('loopback', '::1', 128, 'ipv6'),
  // Deprecated by RFC 4291; nothing legitimate uses it, and some stacks route it to the embedded IPv4 address.
  rule('IPv4-compatible', '::', 96, 'ipv6'),
  // RFC 8215 leaves the embedding format to each network, so the embedded address cannot be read reliably.
  rule('local-use NAT64', '64:ff9b:1::', 48, 'ipv6'),
  rule('discard-only', '100::', 64, 'ipv6'),
  rule('Teredo', '2001::', 32, 'ipv6'),
  rule('IETF protocol assignments', '2001::', 23, 'ipv6'),
  rule('documentation', '2001:db8::', 32, 'ipv6'),
  rule('documentation', '3fff::', 20, 'ipv6'),
  rule('unique local', 'fc00::', 7, 'ipv6'),
  rule('link-local', 'fe80::', 10, 'ipv6'),
  rule('site-local', 'fec0::', 10, 'ipv6'),
  rule('multicast', 'ff00::', 8, 'ipv6'),
];

// IANA allocates global unicast only from 2000::/3; everything else is reserved or special (SRv6 SIDs 5f00::/16,
// ::ffff:0:0:0/96, …). Refusing the rest keeps a range added to the registry later from becoming a hole.
const GLOBAL_UNICAST = new BlockList();
GLOBAL_UNICAST.addSubnet('2000::', 3, 'ipv6');

function firstMatch(rules: readonly Rule[], address: string, family: 'ipv4' | 'ipv6'): string | undefined {
  return rules.find((r) => r.list.check(address, family))?.name;
}

/**
 * The special-purpose range `address` falls in, or undefined for a public unicast address. Anything that is not
 * an IP address at all is refused too: BlockList answers false for what it cannot parse, which must not read as
 * "public".
 */
export function specialPurposeRange(address: string): string | undefined {
  const family = isIP(address);
  if (family === 4) return firstMatch(V4_RULES, address, 'ipv4');
  if (family !== 6) return 'not an IP address';
  const mapped = firstMatch(V4_RULES, address, 'ipv6');
  if (mapped) return `IPv4-mapped ${mapped}`;
  const embedded = firstMatch(EMBEDDED_RULES, address, 'ipv6');
  if (embedded) return embedded;
  if (TRANSLATED.check(address, 'ipv6')) return undefined;
  const special = firstMatch(V6_RULES, address, 'ipv6');
  if (special) return special;
  if (!GLOBAL_UNICAST.check(address, 'ipv6')) return 'outside global unicast (2000::/3)';
  return undefined;
}

/** The default: public unicast addresses only. */
export const publicAddressesOnly: AddressPolicy = specialPurposeRange;

/** `mods.allowPrivateAddresses`: for closed test setups whose mirror sits on the host or the LAN. */
export const anyAddress: AddressPolicy = () => undefined;

import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { specialPurposeRange } from '../../../src/mods/address-policy.js';

/** What a download would be asked to connect to once `new URL()` has normalised the host. */
function hostOf(url: string): string {
  const { hostname } = new URL(url);
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}

const blocked = (address: string) => specialPurposeRange(address) !== undefined;

/** [first octet..., prefix] of every IPv4 special-purpose range that must be refused. */
const V4_BLOCKED: readonly [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
  ['255.255.255.255', 32],
];

// The test's own oracle, built independently of the module's table: any 32-bit value inside one of the ranges.
const toInt = (dotted: string) => dotted.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const blockedV4 = fc
  .constantFrom(...V4_BLOCKED)
  .chain(([net, prefix]) => fc.integer({ min: 0, max: 2 ** (32 - prefix) - 1 }).map((offset) => toInt(net) + offset));
const octets = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255] as const;
const dotted = (n: number) => octets(n).join('.');
const hex = (n: number) => `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
const padded = (n: number) =>
  `${(n >>> 16).toString(16).padStart(4, '0')}:${(n & 0xffff).toString(16).padStart(4, '0')}`;

/** Every way a URL can spell an IPv6 address that carries the IPv4 address `n`. */
function embeddings(n: number): string[] {
  return [
    `http://[::ffff:${dotted(n)}]/`,
    `http://[::FFFF:${hex(n)}]/`,
    `http://[0:0:0:0:0:ffff:${dotted(n)}]/`,
    `http://[0000:0000:0000:0000:0000:ffff:${padded(n)}]/`,
    `http://[::${dotted(n)}]/`,
    `http://[::${hex(n)}]/`,
    `http://[64:ff9b::${dotted(n)}]/`,
    `http://[64:ff9b:0:0:0:0:${hex(n)}]/`,
    `http://[64:ff9b:1::${dotted(n)}]/`,
    `http://[2002:${hex(n)}::]/`,
    `http://[2002:${hex(n)}:1234:5678:9abc:def0:1]/`,
  ];
}

/** IPv4 spellings the WHATWG parser folds into a dotted quad. */
function v4Spellings(n: number): string[] {
  const [a, b, c, d] = octets(n);
  return [
    `http://${dotted(n)}/`,
    `http://${n}/`,
    `http://0x${n.toString(16)}/`,
    `http://0${a.toString(8)}.0${b.toString(8)}.0${c.toString(8)}.0${d.toString(8)}/`,
    `http://0x${a.toString(16)}.${(b << 16) | (c << 8) | d}/`,
    `http://${dotted(n)}./`,
  ];
}

describe('specialPurposeRange', () => {
  it('refuses every IPv4 special-purpose address in every spelling the URL parser folds (property)', () => {
    fc.assert(
      fc.property(blockedV4, (n) => {
        for (const url of v4Spellings(n)) {
          // Else "not an IP address" would pass this test for the wrong reason.
          expect(hostOf(url), url).toBe(dotted(n));
          expect(specialPurposeRange(hostOf(url)), url).toBeDefined();
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every IPv6 embedding of a refused IPv4 address, after new URL() normalisation (property)', () => {
    fc.assert(
      fc.property(blockedV4, (n) => {
        for (const url of embeddings(n)) {
          expect(isIP(hostOf(url)), url).toBe(6);
          const why = specialPurposeRange(hostOf(url));
          expect(why, url).toBeDefined();
          // Named by the embedding rules, not caught by the catch-all for what is no address or not global.
          expect(why, url).not.toMatch(/not an IP address|^outside/);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses the mapped loopback spellings of the finding', () => {
    for (const url of [
      'http://[::ffff:127.0.0.1]:8080/latest/meta-data/',
      'http://[0:0:0:0:0:ffff:127.0.0.1]/',
      'http://[::ffff:0.0.0.0]/',
      'http://[::ffff:169.254.169.254]/',
      'http://[::ffff:7f00:1]/',
    ]) {
      expect(specialPurposeRange(hostOf(url)), url).toMatch(/^IPv4-mapped /);
    }
    expect(hostOf('http://[::ffff:127.0.0.1]/')).toBe('::ffff:7f00:1');
  });

  it('names the IPv6 special-purpose ranges', () => {
    const cases: [string, RegExp][] = [
      ['::', /unspecified/],
      ['::1', /^loopback/],
      ['::7f00:1', /IPv4-compatible/],
      ['::808:808', /IPv4-compatible/],
      ['64:ff9b::a00:1', /NAT64 of private/],
      ['64:ff9b:1::808:808', /local-use NAT64/],
      ['100::1', /discard-only/],
      ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /Teredo/],
      ['2001:2::1', /IETF protocol assignments/],
      ['2001:1ff:ffff::1', /IETF protocol assignments/],
      ['2001:db8::1', /documentation/],
      ['3fff::1', /documentation/],
      ['2002:c0a8:101::1', /6to4 of private/],
      ['fc00::1', /unique local/],
      ['fdff:ffff::1', /unique local/],
      ['fe80::1', /link-local/],
      ['febf::1', /link-local/],
      ['fec0::1', /site-local/],
      ['ff02::1', /multicast/],
      ['5f00::1', /outside global unicast/],
      ['::ffff:0:7f00:1', /outside global unicast/],
      ['not-an-address', /not an IP address/],
      ['', /not an IP address/],
    ];
    for (const [address, why] of cases) expect(specialPurposeRange(address), address).toMatch(why);
  });

  it('allows public addresses, also through mapped, NAT64 and 6to4 forms', () => {
    for (const address of [
      '1.1.1.1',
      '8.8.8.8',
      '172.32.0.1',
      '100.128.0.1',
      '192.0.1.1',
      '223.255.255.255',
      '2606:4700::1111',
      '2a00:1450:4001:80b::200e',
      '::ffff:8.8.8.8',
      '64:ff9b::1.1.1.1',
      '2002:808:808::1',
      '2001:200::1',
    ]) {
      expect(specialPurposeRange(address), address).toBeUndefined();
    }
  });

  it('allows every IPv4 address outside the special ranges, and its mapped and NAT64 forms (property)', () => {
    const oracle = new BlockList();
    for (const [net, prefix] of V4_BLOCKED) oracle.addSubnet(net, prefix, 'ipv4');
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }).filter((n) => !oracle.check(dotted(n), 'ipv4')),
        (n) => {
          for (const url of [`http://${n}/`, `http://[::ffff:${hex(n)}]/`, `http://[64:ff9b::${dotted(n)}]/`]) {
            expect(specialPurposeRange(hostOf(url)), url).toBeUndefined();
          }
          expect(blocked(hostOf(`http://[::${dotted(n)}]/`))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('relies on node matching IPv4 rules against IPv4-mapped IPv6 addresses', () => {
    // If a node release drops this, mapped addresses would fall through to the IPv6 rules: this test says so first.
    const list = new BlockList();
    list.addSubnet('127.0.0.0', 8, 'ipv4');
    expect(list.check('::ffff:7f00:1', 'ipv6')).toBe(true);
    expect(list.check('0:0:0:0:0:ffff:127.0.0.1', 'ipv6')).toBe(true);
    expect(list.check('::7f00:1', 'ipv6')).toBe(false);
  });
});

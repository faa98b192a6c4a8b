/**
 * SSRF guard for remote origins. Two checks, both made before a single packet leaves:
 *
 * - IP literals in a URL are classified by `classifyAddress` (net.connect never calls `lookup`
 *   for a literal, so the caller must check literals itself).
 * - Host names are resolved by `guardedLookup`, which is plugged into the socket's `lookup`
 *   option. The addresses it judges are the very addresses the socket then connects to, so a
 *   second DNS answer (rebinding) can never slip between the check and the connection.
 *
 * Odd IPv4 spellings (`2130706433`, `0177.0.0.1`, `0x7f.1`) need no code here: WHATWG URL
 * parsing (`new URL()`) turns them into dotted quads before anyone looks at the host.
 */
import dns from 'node:dns';
import net from 'node:net';
import { Errors } from '../errors.ts';

export type AddressClass =
  | 'public' | 'loopback' | 'private' | 'link-local' | 'cgnat' | 'multicast' | 'broadcast'
  | 'unspecified' | 'reserved' | 'documentation' | 'invalid';

export interface ResolvedAddress { address: string; family: number }
/** Resolves a host name to every address it has (A and AAAA). */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

type V4Range = readonly [base: number, bits: number, cls: Exclude<AddressClass, 'public'>];

function v4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

// Order matters only where ranges nest: 255.255.255.255 sits inside 240/4.
const V4_RANGES: readonly V4Range[] = [
  [v4(255, 255, 255, 255), 32, 'broadcast'],
  [v4(0, 0, 0, 0), 8, 'unspecified'],
  [v4(10, 0, 0, 0), 8, 'private'],
  [v4(100, 64, 0, 0), 10, 'cgnat'],
  [v4(127, 0, 0, 0), 8, 'loopback'],
  [v4(169, 254, 0, 0), 16, 'link-local'],
  [v4(172, 16, 0, 0), 12, 'private'],
  [v4(192, 0, 0, 0), 24, 'reserved'],
  [v4(192, 0, 2, 0), 24, 'documentation'],
  [v4(192, 88, 99, 0), 24, 'reserved'],
  [v4(192, 168, 0, 0), 16, 'private'],
  [v4(198, 18, 0, 0), 15, 'reserved'],
  [v4(198, 51, 100, 0), 24, 'documentation'],
  [v4(203, 0, 113, 0), 24, 'documentation'],
  [v4(224, 0, 0, 0), 4, 'multicast'],
  [v4(240, 0, 0, 0), 4, 'reserved'],
];

function parseV4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

function classifyV4(n: number): AddressClass {
  for (const [base, bits, cls] of V4_RANGES) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if (((n & mask) >>> 0) === base) return cls;
  }
  return 'public';
}

/** Eight 16-bit groups, or undefined when `s` is not an IPv6 address. */
function parseV6(s: string): number[] | undefined {
  if (!net.isIPv6(s)) return undefined;
  let text = s;
  const lastColon = text.lastIndexOf(':');
  const dotted = text.slice(lastColon + 1);
  if (dotted.includes('.')) {
    const n = parseV4(dotted);
    if (n === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  const toGroups = (h: string): number[] => (h === '' ? [] : h.split(':').map((g) => parseInt(g, 16)));
  const head = toGroups(halves[0]);
  const rest = halves.length > 1 ? toGroups(halves[1]) : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 && fill !== 0) return undefined;
  const groups = [...head, ...new Array<number>(Math.max(0, fill)).fill(0), ...rest];
  return groups.length === 8 ? groups : undefined;
}

function v4At(g: number[], hi: number): number {
  return ((g[hi] << 16) | g[hi + 1]) >>> 0;
}

// The reason to report when several embedded candidates are refused: the most telling one,
// since a candidate read from the wrong RFC 6052 position is usually mostly zeros.
const RANK: readonly AddressClass[] = [
  'loopback', 'link-local', 'private', 'cgnat', 'multicast', 'broadcast', 'documentation', 'reserved', 'unspecified',
];

/** A tunnel is only as safe as the address it leads to: any refused candidate refuses. */
function worst(...classes: AddressClass[]): AddressClass {
  const refused = classes.filter((c) => c !== 'public');
  if (refused.length === 0) return 'public';
  return refused.sort((a, b) => RANK.indexOf(a) - RANK.indexOf(b))[0];
}

function classifyV6(g: number[]): AddressClass {
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(8)) return 'unspecified';
  if (zeroTo(7) && g[7] === 1) return 'loopback';
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compat, deprecated but still routed by some stacks)
  if (zeroTo(5) && g[5] === 0xffff) return classifyV4(v4At(g, 6));
  if (zeroTo(6)) return classifyV4(v4At(g, 6));
  // ::ffff:0:a.b.c.d (SIIT, RFC 2765)
  if (zeroTo(4) && g[4] === 0xffff && g[5] === 0) return classifyV4(v4At(g, 6));
  // NAT64 well-known prefix 64:ff9b::/96
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) {
    return classifyV4(v4At(g, 6));
  }
  // Local-use NAT64 64:ff9b:1::/48 may embed the IPv4 at any RFC 6052 position past /48.
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) {
    return worst(
      classifyV4(((g[3] << 16) | ((g[4] & 0xff) << 8) | (g[5] >> 8)) >>> 0), // /48 (u octet skipped)
      classifyV4((((g[3] & 0xff) << 24) | ((g[4] & 0xff) << 16) | g[5]) >>> 0), // /56
      classifyV4((((g[4] & 0xff) << 24) | (g[5] << 8) | (g[6] >> 8)) >>> 0), // /64
      classifyV4(v4At(g, 6)), // /96
    );
  }
  // 6to4: 2002:AABB:CCDD::/48 carries the IPv4 in bits 16-47.
  if (g[0] === 0x2002) return classifyV4(v4At(g, 1));
  // Teredo 2001:0::/32: server IPv4 in bits 32-63, client IPv4 (inverted) in the last 32.
  if (g[0] === 0x2001 && g[1] === 0) {
    return worst(classifyV4((v4At(g, 6) ^ 0xffffffff) >>> 0), classifyV4(v4At(g, 2)));
  }
  if ((g[0] & 0xfe00) === 0xfc00) return 'private';
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0] & 0xffc0) === 0xfec0) return 'private'; // site-local, deprecated
  if ((g[0] & 0xff00) === 0xff00) return 'multicast';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'documentation';
  if (g[0] === 0x3fff && (g[1] & 0xf000) === 0) return 'documentation'; // 3fff::/20
  if (g[0] === 0x0100 && g.slice(1, 4).every((x) => x === 0)) return 'reserved'; // discard 100::/64
  if (g[0] === 0x2001 && g[1] === 0x0002 && g[2] === 0) return 'reserved'; // benchmarking
  if (g[0] === 0x2001 && g[1] >= 0x0010 && g[1] <= 0x002f) return 'reserved'; // ORCHID v1/v2
  if (g[0] === 0x5f00) return 'reserved'; // SRv6 SIDs
  // Everything outside global unicast 2000::/3 is unassigned or special-purpose.
  if ((g[0] & 0xe000) !== 0x2000) return 'reserved';
  return 'public';
}

/**
 * `'public'` when the address may be fetched from, else the reason it may not. Accepts IPv4,
 * IPv6 (with or without brackets or a `%zone`); addresses that embed an IPv4 (mapped, compat,
 * NAT64, 6to4, Teredo) are judged by the IPv4 they lead to.
 */
export function classifyAddress(ip: string): AddressClass {
  let s = ip.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (net.isIPv4(s)) {
    const n = parseV4(s);
    return n === undefined ? 'invalid' : classifyV4(n);
  }
  const g = parseV6(s);
  return g ? classifyV6(g) : 'invalid';
}

/** Lower-case, no brackets, no trailing dot; IP literals in their canonical URL spelling. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (net.isIPv6(h)) {
    try { return new URL(`http://[${h}]/`).hostname.slice(1, -1); } catch { return h; }
  }
  return h;
}

/**
 * True when `host` is explicitly listed: an exact entry, or `*.example.com`, which matches
 * any name below example.com but not example.com itself (list both to allow both). An empty
 * list lists nothing; callers decide what an empty list means for their policy.
 */
export function isHostAllowed(host: string, allowList: readonly string[]): boolean {
  const h = normalizeHost(host);
  if (!h) return false;
  for (const raw of allowList) {
    const entry = raw.trim().toLowerCase();
    if (entry.startsWith('*.')) {
      const suffix = normalizeHost(entry.slice(2));
      if (suffix && h.endsWith('.' + suffix)) return true;
    } else if (entry && normalizeHost(entry) === h) {
      return true;
    }
  }
  return false;
}

/** The reason `host` (a URL hostname) is refused as an IP literal, or undefined if it is not one / is fine. */
export function refuseLiteral(host: string, allowList: readonly string[]): string | undefined {
  const h = normalizeHost(host);
  if (net.isIP(h) === 0) return undefined;
  const cls = classifyAddress(h);
  if (cls === 'public' || isHostAllowed(h, allowList)) return undefined;
  return `address ${h} is ${cls}`;
}

export const systemResolver: Resolver = (host) => dns.promises.lookup(host, { all: true, verbatim: true });

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;
/** Same shape as net.connect's / undici `connect`'s `lookup` option. */
export type LookupFunction = (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => void;

/**
 * A `lookup` for sockets that refuses a host when ANY of its addresses is not public, unless
 * the host is allow-listed (an operator may point an allow-listed name at an internal origin).
 * All addresses are judged, not just the one picked, so a name that answers one public and
 * one private address cannot win a race to the private one.
 */
export function guardedLookup(allowList: readonly string[], resolver: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    const host = normalizeHost(hostname);
    resolver(host).then((answers) => {
      const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family ?? 0;
      const all = family === 4 || family === 6 ? answers.filter((a) => a.family === family) : answers;
      if (all.length === 0) {
        const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${host}`);
        err.code = 'ENOTFOUND';
        callback(err, '');
        return;
      }
      if (!isHostAllowed(host, allowList)) {
        for (const a of answers) {
          const cls = classifyAddress(a.address);
          if (cls !== 'public') {
            callback(new Errors.FORBIDDEN(`${host} resolves to ${cls} address ${a.address}`), '');
            return;
          }
        }
      }
      if (options.all) callback(null, all.map((a) => ({ address: a.address, family: a.family })));
      else callback(null, all[0].address, all[0].family);
    }, (err: NodeJS.ErrnoException) => callback(err, ''));
  };
}

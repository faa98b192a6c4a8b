import net from 'node:net';
import t from 'tap';
import { testConfig } from '../../src/config.ts';
import { isHttpError } from '../../src/errors.ts';
import { createHttpOrigin } from '../../src/origin/http.ts';
import {
  classifyAddress, guardedLookup, isHostAllowed, refuseLiteral, type LookupFunction, type ResolvedAddress, type Resolver,
} from '../../src/security/ssrf.ts';
import { startOriginServer } from '../helpers/origin-server.ts';

t.test('classifyAddress', async (t) => {
  const table: [string, string][] = [
    // IPv4
    ['8.8.8.8', 'public'],
    ['93.184.216.34', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['172.15.255.255', 'public'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['100.128.0.1', 'public'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['192.0.2.5', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['198.18.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
    // IPv6
    ['2606:4700:4700::1111', 'public'],
    ['2a00:1450:4001:80b::200e', 'public'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['100::1', 'reserved'],
    ['4000::1', 'reserved'],
    // IPv4 embedded in IPv6: judged by the IPv4
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['::127.0.0.1', 'loopback'],
    ['::a9fe:a9fe', 'link-local'],
    ['::ffff:0:169.254.169.254', 'link-local'],
    ['64:ff9b::a00:1', 'private'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::808:808', 'public'],
    ['64:ff9b:1::a00:1', 'private'],
    ['64:ff9b:1:7f00:0:100::', 'loopback'], // /48 embedding of 127.0.0.1
    ['2002:7f00:1::', 'loopback'],
    ['2002:a9fe:a9fe::1', 'link-local'],
    ['2002:808:808::1', 'public'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'loopback'], // Teredo client ~80ff:fffe = 127.0.0.1
    ['2001:0:4136:e378:8000:63bf:f5ff:fffe', 'private'], // client 10.0.0.1
    ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', 'public'], // client 8.8.8.8, server 65.54.227.120
    // not addresses
    ['evil.test', 'invalid'],
    ['', 'invalid'],
    ['1.2.3', 'invalid'],
    ['256.1.1.1', 'invalid'],
  ];
  for (const [ip, want] of table) t.equal(classifyAddress(ip), want, ip);
});

t.test('odd IPv4 spellings are normalised by WHATWG URL before any check', async (t) => {
  const forms = ['2130706433', '0177.0.0.1', '0x7f.1', '0x7f000001', '017700000001', '127.1', '0x7F.0.0.0x1'];
  for (const f of forms) {
    const host = new URL(`http://${f}:8080/a.jpg`).hostname;
    t.equal(host, '127.0.0.1', f);
    t.equal(refuseLiteral(host, []), 'address 127.0.0.1 is loopback', `${f} refused`);
  }
  t.equal(new URL('http://0xa9.0xfe.0xa9.0xfe/').hostname, '169.254.169.254');
  t.equal(new URL('http://[::ffff:127.0.0.1]/').hostname, '[::ffff:7f00:1]');
  t.equal(refuseLiteral('[::ffff:7f00:1]', []), 'address ::ffff:7f00:1 is loopback');
  t.equal(refuseLiteral('[0:0:0:0:0:0:0:1]', ['::1']), undefined, 'allow-listed literal in another spelling');
  t.equal(refuseLiteral('evil.test', []), undefined, 'names are left to the lookup');
  t.equal(refuseLiteral('8.8.8.8', []), undefined);
});

t.test('isHostAllowed', async (t) => {
  const list = ['img.example.com', '*.cdn.example.net', '127.0.0.1', '::1'];
  const table: [string, boolean][] = [
    ['img.example.com', true],
    ['IMG.Example.COM', true],
    ['img.example.com.', true],
    ['example.com', false],
    ['evil-img.example.com', false],
    ['img.example.com.evil.test', false],
    ['a.cdn.example.net', true],
    ['a.b.cdn.example.net', true],
    ['cdn.example.net', false],
    ['xcdn.example.net', false],
    ['127.0.0.1', true],
    ['[::1]', true],
    ['127.0.0.2', false],
    ['', false],
  ];
  for (const [host, want] of table) t.equal(isHostAllowed(host, list), want, host || '(empty)');
  t.equal(isHostAllowed('anything.test', []), false, 'an empty list lists nothing');
});

function stub(answers: Record<string, string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (host: string): Promise<ResolvedAddress[]> => {
    calls.push(host);
    return (answers[host] ?? []).map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 }));
  };
  return Object.assign(fn, { calls });
}

function lookup(fn: LookupFunction, host: string, all: boolean, family = 0): Promise<unknown> {
  return new Promise((resolve, reject) => {
    fn(host, { all, family }, (err, address, fam) => (err ? reject(err) : resolve(all ? address : { address, family: fam })));
  });
}

t.test('guardedLookup refuses any non-public answer', async (t) => {
  const resolver = stub({
    'evil.test': ['10.0.0.1'],
    'metadata.test': ['169.254.169.254'],
    'mapped.test': ['::ffff:127.0.0.1'],
    'nat64.test': ['64:ff9b::a00:1'],
    'sixtofour.test': ['2002:c0a8:101::1'],
    'mixed.test': ['8.8.8.8', '10.0.0.1'],
    'public.test': ['8.8.8.8', '2606:4700:4700::1111'],
    'internal.test': ['10.1.2.3'],
    'nothing.test': [],
  });
  const fn = guardedLookup(['internal.test'], resolver);
  for (const [host, reason] of [
    ['evil.test', 'private address 10.0.0.1'],
    ['metadata.test', 'link-local address 169.254.169.254'],
    ['mapped.test', 'loopback address ::ffff:127.0.0.1'],
    ['nat64.test', 'private address 64:ff9b::a00:1'],
    ['sixtofour.test', 'private address 2002:c0a8:101::1'],
    ['mixed.test', 'private address 10.0.0.1'],
  ] as const) {
    for (const all of [true, false]) {
      const err = await lookup(fn, host, all).then(() => undefined, (e: unknown) => e);
      t.ok(isHttpError(err) && err.statusCode === 403, `${host} all=${all} → 403`);
      t.match((err as Error).message, `${host} resolves to ${reason}`);
    }
  }
  t.same(await lookup(fn, 'public.test', true), [
    { address: '8.8.8.8', family: 4 }, { address: '2606:4700:4700::1111', family: 6 },
  ], 'public answers pass through, all of them');
  t.same(await lookup(fn, 'public.test', false), { address: '8.8.8.8', family: 4 });
  t.same(await lookup(fn, 'public.test', false, 6), { address: '2606:4700:4700::1111', family: 6 }, 'family honoured');
  t.same(await lookup(fn, 'INTERNAL.test.', false), { address: '10.1.2.3', family: 4 }, 'allow-listed name may be private');
  const missing = await lookup(fn, 'nothing.test', true).then(() => undefined, (e: NodeJS.ErrnoException) => e);
  t.equal(missing?.code, 'ENOTFOUND');
});

t.test('guardedLookup plugs into net.connect: refusal happens before connecting', async (t) => {
  const server = await startOriginServer({});
  t.teardown(() => server.close());
  const fn = guardedLookup(['origin.test'], stub({ 'evil.test': ['127.0.0.1'], 'origin.test': ['127.0.0.1'] }));
  const attempt = (host: string) => new Promise<unknown>((resolve) => {
    const socket = net.connect({ host, port: server.port, lookup: fn, autoSelectFamily: false });
    socket.once('connect', () => { socket.destroy(); resolve('connected'); });
    socket.once('error', (e) => resolve(e));
  });
  const refused = await attempt('evil.test');
  t.ok(isHttpError(refused) && refused.statusCode === 403, 'evil.test refused');
  t.equal(server.connections(), 0, 'no connection reached the server');
  t.equal(await attempt('origin.test'), 'connected', 'allow-listed name connects');
  t.equal(server.connections(), 1);
});

t.test('http origin refuses private targets without connecting', async (t) => {
  const server = await startOriginServer({ '/a.png': (_req, res) => res.end('x') });
  t.teardown(() => server.close());
  const resolver = stub({ 'evil.test': ['127.0.0.1'], 'rebind.test': ['::ffff:127.0.0.1'], 'nothing.test': [] });
  // Empty allow-list: any public host is fine, so only the address check stands in the way.
  const origin = createHttpOrigin(testConfig({ fetchAllow: [], fetchPorts: '*', fetchTimeoutMs: 500 }), { resolver });
  t.teardown(() => origin.close());
  const p = server.port;
  const cases: [string, RegExp][] = [
    [`http://evil.test:${p}/a.png`, /evil\.test resolves to loopback address 127\.0\.0\.1/],
    [`http://rebind.test:${p}/a.png`, /loopback address ::ffff:127\.0\.0\.1/],
    [`http://127.0.0.1:${p}/a.png`, /address 127\.0\.0\.1 is loopback/],
    [`http://2130706433:${p}/a.png`, /address 127\.0\.0\.1 is loopback/],
    [`http://0x7f.1:${p}/a.png`, /address 127\.0\.0\.1 is loopback/],
    [`http://0177.0.0.1:${p}/a.png`, /address 127\.0\.0\.1 is loopback/],
    [`http://[::ffff:127.0.0.1]:${p}/a.png`, /address ::ffff:7f00:1 is loopback/],
    [`http://[::1]:${p}/a.png`, /address ::1 is loopback/],
  ];
  for (const [url, message] of cases) {
    const err = await origin.loadUrl(url).then(() => undefined, (e: unknown) => e);
    t.ok(isHttpError(err) && err.statusCode === 403, `${url} → 403`);
    t.match((err as Error).message, message, url);
  }
  t.equal(server.connections(), 0, 'the loopback server never saw a connection');
  t.same(resolver.calls, ['evil.test', 'rebind.test'], 'names went through the guarded lookup; literals never did');

  const err = await origin.loadUrl(`http://nothing.test:${p}/a.png`).then(() => undefined, (e: unknown) => e);
  t.ok(isHttpError(err) && err.statusCode === 502, 'unresolvable name → 502');
});

t.test('allow-listed name may resolve to loopback (operator opt-in)', async (t) => {
  const server = await startOriginServer({ '/a.png': (_req, res) => res.end('bytes') });
  t.teardown(() => server.close());
  const origin = createHttpOrigin(testConfig({ fetchAllow: ['*.internal.test'], fetchPorts: '*' }), {
    resolver: stub({ 'img.internal.test': ['127.0.0.1'], 'evil.test': ['127.0.0.1'] }),
  });
  t.teardown(() => origin.close());
  const src = await origin.loadUrl(`http://img.internal.test:${server.port}/a.png`);
  t.equal(src.buffer.toString(), 'bytes');
  const err = await origin.loadUrl(`http://evil.test:${server.port}/a.png`).then(() => undefined, (e: unknown) => e);
  t.match(err, { statusCode: 403, message: /not in the fetch allow-list/ });
  t.equal(server.connections(), 1, 'only the allow-listed load connected');
});

/**
 * Admission control through the real route (src/admission.ts): with one transform slot and a
 * one-place queue, concurrent cold requests are either served or shed with 503 + Retry-After;
 * a request that waits longer than queueTimeoutMs is shed; cache hits are answered while the
 * transforms are saturated; and a slow client never holds a transform slot.
 *
 * Renders are held in flight by the render gate (DeliveryOptions.renderLatch), released when
 * the test chooses: no case depends on how long a render takes.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import type { LightMyRequestResponse } from 'fastify';
import { request } from 'undici';
import { Admission } from '../src/admission.ts';
import { renderGate, startServer, waitFor } from './helpers/harness.ts';

// A noise image: nothing compresses it, so its PNG is big (the slow-client case needs that).
const N = 1000;
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-admission-'));
t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
const noise = Buffer.alloc(N * N * 3);
let seed = 12345;
for (let i = 0; i < noise.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; noise[i] = seed >>> 24; }
await fs.writeFile(path.join(dir, 'noise.png'), await sharp(noise, { raw: { width: N, height: N, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer());
await fs.writeFile(path.join(dir, 'small.jpg'), await sharp({ create: { width: 64, height: 64, channels: 3, background: '#345' } }).jpeg().toBuffer());

let unique = 0;
/** A cold URL: a width never asked before, so neither cache nor coalescing helps. */
function coldUrl(): string {
  unique++;
  return `/image/upload/w_${400 - unique}/small.jpg`;
}

/** One render slot and one queue place unless a test says otherwise. */
const ONE_SLOT = { storageDir: dir, concurrency: 1, queueSize: 1 };

/** Tracks how many of `promises` have settled. */
function settledCount<T>(promises: Promise<T>[]): () => number {
  let n = 0;
  for (const p of promises) p.then(() => { n++; }, () => { n++; });
  return () => n;
}

t.test('the Admission primitive', async (t) => {
  const a = new Admission(1, 1, 50);
  const r1 = await a.acquire();
  const p2 = a.acquire();
  const shedNow = await a.acquire().then(() => undefined, (e: { statusCode?: number; message?: string }) => e);
  t.equal(shedNow?.statusCode, 503, 'third is shed at once: queue full');
  t.equal(a.inFlight, 1);
  t.equal(a.queued, 1);
  r1();
  const r2 = await p2;
  t.equal(a.inFlight, 1, 'the queued one took the slot');
  r2();
  r2();
  t.equal(a.inFlight, 0, 'double release is harmless');
  const r3 = await a.acquire();
  const late = await a.acquire().then(() => undefined, (e: { statusCode?: number; message?: string }) => e);
  t.equal(late?.statusCode, 503, 'waiting past queueTimeoutMs is shed');
  t.match(String(late?.message), /waited too long/);
  t.equal(a.queued, 0, 'the timed-out waiter left the queue');
  r3();
});

t.test('concurrent cold requests: served or shed with 503 + Retry-After', async (t) => {
  const gate = renderGate();
  const { app } = await startServer(t, { listen: false, gate, config: { ...ONE_SLOT, queueTimeoutMs: 600_000 } });
  // Warm the source bytes and metadata so every request reaches admission at once.
  gate.open();
  t.equal((await app.inject('/image/upload/w_10/small.jpg')).statusCode, 200);
  gate.shut();
  const urls = Array.from({ length: 6 }, coldUrl);
  const pending = urls.map((u) => app.inject(u));
  const settled = settledCount(pending);
  // One render holds the slot, one waits in the queue, the other four are shed at once.
  await gate.waitHeld(1);
  await waitFor(() => app.delivery.admission.queued === 1 && settled() === 4, 'one queued, four shed');
  t.equal(app.delivery.admission.inFlight, 1, 'the slot is taken while the render is held');
  gate.open();
  const responses = await Promise.all(pending);
  const codes = responses.map((r) => r.statusCode);
  t.comment(`statuses: ${codes.join(' ')}`);
  t.equal(codes.filter((c) => c === 200).length, 2, 'two served: the one running and the one queued');
  const shed = responses.filter((r) => r.statusCode === 503);
  t.equal(shed.length, 4, 'four shed');
  for (const r of shed) {
    t.equal(r.headers['retry-after'], '1', '503 has Retry-After');
    t.equal(r.headers['cache-control'], 'no-store', '503 is not cached');
    t.match(String(r.headers['x-cld-error']), /overloaded/i);
  }
  t.equal(app.delivery.admission.inFlight, 0, 'every slot released');
  t.equal(app.delivery.admission.queued, 0, 'queue drained');
  // A shed URL is not poisoned: asked again when idle, it is served.
  const again = await app.inject(urls[codes.indexOf(503)]!);
  t.equal(again.statusCode, 200, 'served once the burst is over');
});

t.test('waiting longer than queueTimeoutMs → 503', async (t) => {
  const gate = renderGate();
  const { app } = await startServer(t, { listen: false, gate, config: { ...ONE_SLOT, queueSize: 5, queueTimeoutMs: 50 } });
  gate.open();
  t.equal((await app.inject('/image/upload/w_10/small.jpg')).statusCode, 200);
  gate.shut();
  const first = app.inject(coldUrl());
  await gate.waitHeld(1);
  // The first render is held until the second has been shed, however long that takes.
  const second = await app.inject(coldUrl());
  t.equal(second.statusCode, 503, 'the waiter is shed after queueTimeoutMs');
  t.match(String(second.headers['x-cld-error']), /waited too long/);
  t.equal(second.headers['retry-after'], '1');
  gate.open();
  t.equal((await first).statusCode, 200, 'the one with the slot is served');
});

t.test('cache hits are answered while transforms are saturated', async (t) => {
  const gate = renderGate();
  const { app } = await startServer(t, { listen: false, gate, config: { ...ONE_SLOT, queueSize: 1, queueTimeoutMs: 600_000 } });
  const warm = '/image/upload/w_32/small.jpg';
  gate.open();
  t.equal((await app.inject(warm)).statusCode, 200, 'warm-up');
  gate.shut();
  const done: string[] = [];
  // Record when each served cold request finished (a shed one finishes at once, by design).
  const cold = [coldUrl(), coldUrl(), coldUrl()].map((u, i) => app.inject(u).then((r) => { if (r.statusCode === 200) done.push(`cold${i}`); return r; }));
  const settled = settledCount(cold);
  await gate.waitHeld(1);
  await waitFor(() => app.delivery.admission.queued === 1 && settled() === 1, 'slot taken, queue full, one shed');
  t.equal(app.delivery.admission.inFlight, 1, 'slot taken');
  t.equal(app.delivery.admission.queued, 1, 'queue full');
  const hits: LightMyRequestResponse[] = [];
  for (let i = 0; i < 20; i++) hits.push(await app.inject(warm));
  done.push('hits');
  t.ok(hits.every((h) => h.statusCode === 200), '20 cache hits: 200');
  t.match(String(hits[0].headers['server-timing']), /cache;desc="l1"/, 'served from the result cache');
  t.equal(app.delivery.admission.queued, 1, 'the queue was still full while the hits were answered');
  t.equal(gate.held, 1, 'the cold render was still held');
  gate.open();
  const colds = await Promise.all(cold);
  t.equal(done[0], 'hits', `hits answered before any cold transform finished (${done.join(', ')})`);
  t.ok(colds.some((r) => r.statusCode === 503), 'the third cold one was shed');
  t.ok(colds.filter((r) => r.statusCode === 200).length === 2, 'two cold ones served');
});

t.test('a slow client does not hold a transform slot', async (t) => {
  const { app, port, base } = await startServer(t, { config: { ...ONE_SLOT, queueSize: 0, queueTimeoutMs: 600_000 } });
  t.equal((await request(`${base}/image/upload/w_10/noise.png`).then(async (r) => { await r.body.dump(); return r.statusCode; })), 200);

  // 1. Slowloris: headers never finished. Never reaches the route.
  const loris = net.connect(port, '127.0.0.1');
  await new Promise((r) => loris.once('connect', r));
  loris.write(`GET ${coldUrl()} HTTP/1.1\r\nHost: x\r\nX-Slow: `);
  t.teardown(() => loris.destroy());

  // 2. A complete request for a big cold result, then reading nothing (paused socket).
  const big = '/image/upload/w_999,f_png/noise.png'; // ≈ 3 MB of incompressible PNG
  const slow = net.connect(port, '127.0.0.1');
  t.teardown(() => slow.destroy());
  await new Promise((r) => slow.once('connect', r));
  let received = 0;
  let firstChunk: () => void = () => {};
  const gotSome = new Promise<void>((r) => { firstChunk = r; });
  let draining = false;
  slow.on('data', (c: Buffer) => { received += c.length; firstChunk(); if (!draining) slow.pause(); });
  slow.write(`GET ${big} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  await gotSome; // the render is done and the response has started
  t.ok(received < 1_000_000, `slow client has read only ${received} bytes so far`);
  t.equal(app.delivery.admission.inFlight, 0, 'no slot held while the body drains to a slow reader');

  // With one slot and no queue, another cold request must get the slot and complete.
  const r = await request(`${base}${coldUrl()}`);
  await r.body.dump();
  t.equal(r.statusCode, 200, 'cold request served while a slow client and a slowloris are connected');
  t.ok(!slow.destroyed && slow.readable, 'the slow client is still connected');
  // Drain the slow client to the end: the whole body arrives intact.
  const total = await new Promise<number>((resolve) => {
    slow.on('end', () => resolve(received));
    draining = true;
    slow.resume();
  });
  t.ok(total > 1_000_000, `slow client eventually got ${total} bytes`);
});

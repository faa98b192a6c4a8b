/**
 * The one source cache (src/origin/source-cache.ts): scopes of several origins in one byte
 * bound, loads shared by concurrent callers, answers that must not be kept, and clear().
 */
import t from 'tap';
import { createSourceCache } from '../../src/origin/source-cache.ts';

const bytes = (n: number, fill: number) => Buffer.alloc(n, fill);

t.test('scopes share one bound and never see each other\'s entries', async (t) => {
  const cache = createSourceCache(10_000);
  const a = cache.scope<Buffer>('a', (b) => b.length);
  const b = cache.scope<Buffer>('b', (v) => v.length);
  t.throws(() => cache.scope<Buffer>('a', (v) => v.length), /exists already/, 'one scope per name');
  const fromA = await a.fetch(a.key('k'), async () => ({ value: bytes(3000, 1), keep: true }));
  const fromB = await b.fetch(b.key('k'), async () => ({ value: bytes(3000, 2), keep: true }));
  t.equal(a.get(a.key('k')), fromA);
  t.equal(b.get(b.key('k')), fromB, 'the same key in another scope is another entry');
  t.ok(cache.bytes() >= 6000 && cache.bytes() <= 10_000, `${cache.bytes()} bytes`);
  // A third value pushes out the least recently used, whatever its scope.
  await b.fetch(b.key('k2'), async () => ({ value: bytes(3500, 3), keep: true }));
  t.notOk(a.peek(a.key('k')), 'a\'s entry was evicted by b\'s');
  t.ok(cache.bytes() <= 10_000);
  b.clear();
  t.equal(cache.entries(), 0);
  await a.fetch(a.key('x'), async () => ({ value: bytes(10, 4), keep: true }));
  b.clear();
  t.ok(a.peek(a.key('x')), 'clear() of one scope leaves the others');
});

t.test('concurrent callers share one load; keep: false is handed out but not kept', async (t) => {
  const cache = createSourceCache(1 << 20);
  const s = cache.scope<Buffer>('s', (b) => b.length);
  let loads = 0;
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  const load = async () => {
    loads++;
    await held;
    return { value: bytes(100, 7), keep: false };
  };
  const pending = Array.from({ length: 4 }, () => s.fetch(s.key('once'), load));
  release();
  const got = await Promise.all(pending);
  t.equal(loads, 1, 'one load for four callers');
  t.ok(got.every((v) => v === got[0]));
  t.equal(s.peek(s.key('once')), undefined, 'not kept');
  await s.fetch(s.key('once'), load);
  t.equal(loads, 2, 'the next caller loads again');

  const big = await s.fetch(s.key('big'), async () => ({ value: bytes(2 << 20, 1), keep: true }));
  t.equal(big.length, 2 << 20, 'a value above the bound is served');
  t.equal(s.peek(s.key('big')), undefined, 'and not kept');
  t.ok(cache.bytes() <= 1 << 20);
});

t.test('forceRefresh hands the kept value to the load; clear() aborts loads in flight', async (t) => {
  const cache = createSourceCache(1 << 20);
  const s = cache.scope<{ n: number }>('s', () => 10);
  await s.fetch(s.key('k'), async () => ({ value: { n: 1 }, keep: true }));
  let seen: { n: number } | undefined;
  const next = await s.fetch(s.key('k'), async (stale) => { seen = stale; return { value: { n: 2 }, keep: true }; }, { forceRefresh: true });
  t.same(seen, { n: 1 }, 'the refresh sees the kept value (for revalidation)');
  t.same(next, { n: 2 });

  let aborted = false;
  const stuck = s.fetch(s.key('stuck'), (_stale, signal) => new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => { aborted = true; reject(new Error('aborted')); });
  }));
  s.clear();
  await t.rejects(stuck, 'the caller is answered at once');
  t.ok(aborted, 'the load saw the abort');
  t.equal(cache.entries(), 0);
});

t.test('delete() during a load (an invalidation) loads once more: the caller gets the fresh source, not an error', async (t) => {
  const cache = createSourceCache(1 << 20);
  const s = cache.scope<{ n: number }>('s', () => 10);
  let calls = 0;
  let started!: () => void;
  const first = new Promise<void>((r) => { started = r; });
  const got = s.fetch(s.key('k'), (_stale, signal) => {
    calls++;
    if (calls === 1) {
      started();
      return new Promise((_resolve, reject) => { signal.addEventListener('abort', () => reject(new Error('aborted'))); });
    }
    return Promise.resolve({ value: { n: 2 }, keep: true });
  });
  await first;
  s.delete(s.key('k'));
  t.same(await got, { n: 2 }, 'the second load answers the caller');
  t.equal(calls, 2, 'loaded twice');
});

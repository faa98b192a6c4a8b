/**
 * The face worker's lifecycle: started by the first detection, stopped after the idle time,
 * started again by the next one, with the same result. The idle countdown is a timer this test
 * fires by hand, so nothing here depends on the clock.
 */
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import {
  configureFaces,
  detectFaces,
  facesStatus,
  getFaceDetector,
  stopFaceWorker,
  type FaceBox,
  type IdleTimer,
} from '../../src/analyze/faces.ts';
import type { RawImage } from '../../src/analyze/types.ts';
import { ConfigError, DEFAULT_FACES_IDLE_MS, loadConfig } from '../../src/config.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const IDLE_MS = 5_000;

interface Countdown { ms: number; fire: () => void; cancelled: boolean }
const countdowns: Countdown[] = [];
const manual: IdleTimer = (ms, fire) => {
  const c: Countdown = { ms, fire, cancelled: false };
  countdowns.push(c);
  return () => { c.cancelled = true; };
};
const armed = (): Countdown[] => countdowns.filter((c) => !c.cancelled);

configureFaces({ idleMs: IDLE_MS, idleTimer: manual });

const { data, info } = await sharp(path.join(here, '../fixtures/astronaut-320.jpg')).raw().toBuffer({ resolveWithObject: true });
const img: RawImage = { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };

let first: FaceBox[] = [];

t.test('no worker before the first detection', async (tt) => {
  tt.equal(facesStatus(), 'idle');
  tt.equal(countdowns.length, 0, 'no countdown either');
});

t.test('the first detection starts the worker, which then counts its idle time down', async (tt) => {
  first = await detectFaces(img);
  tt.equal(first.length, 1, 'the astronaut\'s face');
  tt.equal(facesStatus(), 'ready');
  tt.equal(armed().length, 1, 'one countdown armed once the queue is empty');
  tt.equal(armed()[0]!.ms, IDLE_MS, 'for the configured idle time');
});

t.test('a job cancels the countdown; a countdown that fires while a job runs stops nothing', async (tt) => {
  const stale = armed()[0]!;
  const detector = await getFaceDetector();
  const pending = detector.detect(img); // queued synchronously: the countdown is cancelled now
  tt.ok(stale.cancelled, 'countdown cancelled by the job');
  stale.fire(); // as if its timer had already been due
  tt.equal(facesStatus(), 'ready', 'the busy worker is kept');
  tt.same(await pending, first, 'and the job completes');
  tt.equal(armed().length, 1, 'idle again: a new countdown');
});

t.test('the countdown stops the worker; the next detection starts a new one, same result', async (tt) => {
  const before = await getFaceDetector();
  armed()[0]!.fire();
  tt.equal(facesStatus(), 'idle', 'stopped');
  await stopFaceWorker(); // resolves once the stopped worker has exited
  tt.equal(armed().length, 0, 'no countdown without a worker');
  tt.same(await detectFaces(img), first, 'same faces from the new worker');
  tt.equal(facesStatus(), 'ready');
  tt.not(await getFaceDetector(), before, 'a new detector');
});

t.test('a detector obtained before the stop keeps working', async (tt) => {
  const held = await getFaceDetector();
  await stopFaceWorker();
  tt.equal(facesStatus(), 'idle');
  tt.ok(held.available, 'stopped for idleness is not unavailable');
  tt.same(await held.detect(img), first, 'its job went to a new worker');
  tt.equal(facesStatus(), 'ready');
  tt.equal(await held.tensorCount(), await (await getFaceDetector()).tensorCount(), 'and so do its other calls');
});

t.test('idle time 0 keeps the worker once started', async (tt) => {
  configureFaces({ idleMs: 0 });
  tt.teardown(() => configureFaces({ idleMs: IDLE_MS }));
  await stopFaceWorker();
  const n = countdowns.length;
  tt.same(await detectFaces(img), first);
  tt.equal(countdowns.length, n, 'no countdown armed');
  tt.equal(facesStatus(), 'ready');
});

t.test('APERTURE_FACES_IDLE_MS', async (tt) => {
  tt.equal(loadConfig({}).facesIdleMs, DEFAULT_FACES_IDLE_MS, 'default');
  tt.equal(loadConfig({ APERTURE_FACES_IDLE_MS: '0' }).facesIdleMs, 0, '0: keep the worker');
  for (const bad of ['5s', '-1', '86400001']) {
    let err: unknown;
    try { loadConfig({ APERTURE_FACES_IDLE_MS: bad }); } catch (e) { err = e; }
    tt.ok(err instanceof ConfigError && err.message.includes('APERTURE_FACES_IDLE_MS'), `"${bad}" refused, naming the variable`);
  }
});

t.teardown(() => stopFaceWorker());

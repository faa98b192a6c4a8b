/**
 * The object detector's lifecycle (objects.ts): no worker before the first detection, the idle
 * countdown (an injected timer the test fires instead of waiting) stops it and gives its memory
 * back, the next detection starts a new one with the same answer, and no tensor leaks across
 * detections. Real model, one small image (the repository's cat).
 */
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { configureObjects, getObjectDetector, objectsStatus, stopObjectWorker, type DetectedObject } from '../../src/analyze/objects.ts';
import type { IdleTimer } from '../../src/analyze/faces.ts';
import type { RawImage } from '../../src/analyze/types.ts';
import { COCO_CLASSES } from '../../src/analyze/coco.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const IDLE_MS = 5_000;
const countdowns: { ms: number; fire: () => void; cancelled: boolean }[] = [];
const manual: IdleTimer = (ms, fire) => {
  const c = { ms, fire, cancelled: false };
  countdowns.push(c);
  return () => { c.cancelled = true; };
};
const armed = () => countdowns.filter((c) => !c.cancelled);
configureObjects({ idleMs: IDLE_MS, idleTimer: manual });

const { data, info } = await sharp(path.join(here, '../../images/cat.png')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const img: RawImage = { data, width: info.width, height: info.height, channels: 3 };
let first: DetectedObject[] = [];

t.test('no worker before the first detection', async (tt) => {
  tt.equal(objectsStatus(), 'idle');
  tt.equal(countdowns.length, 0);
});

t.test('the first detection starts the worker and finds the cat', async (tt) => {
  const detector = await getObjectDetector();
  first = await detector.detect(img);
  const best = first[0];
  tt.equal(best && COCO_CLASSES[best.cls], 'cat', `best object: ${JSON.stringify(best)}`);
  tt.ok(best.width > info.width * 0.6, 'a box around most of the picture');
  tt.equal(objectsStatus(), 'ready');
  tt.equal(armed().length, 1, 'idle countdown armed');
  tt.equal(armed()[0]!.ms, IDLE_MS);
  const tensors = await detector.tensorCount();
  await detector.detect(img);
  tt.equal(await detector.tensorCount(), tensors, 'no tensor leaks across detections');
});

t.test('the countdown stops the worker; the next detection starts a new one, same answer', async (tt) => {
  const before = await getObjectDetector();
  armed()[0]!.fire();
  tt.equal(objectsStatus(), 'idle', 'stopped');
  await stopObjectWorker();
  const again = await (await getObjectDetector()).detect(img);
  tt.same(again, first, 'same objects from the new worker');
  tt.not(await getObjectDetector(), before, 'a new detector');
  await stopObjectWorker();
});

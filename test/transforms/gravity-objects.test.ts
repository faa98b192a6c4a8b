/** Parsing and printing of object gravities (transforms/gravity.ts, names from src/analyze/coco.ts). */
import t from 'tap';
import { gravity } from '../../transforms/gravity.ts';
import { COCO_CLASSES, objectClassIds } from '../../src/analyze/coco.ts';

const canon = (raw: string) => gravity.canonical!(gravity.parse(raw));

t.equal(COCO_CLASSES.length, 80, '80 COCO classes');
t.test('names: COCO with and without _, VOC names of Cloudinary SDKs, categories', async (tt) => {
  for (const [raw, want] of [
    ['cat', 'cat'], ['traffic_light', 'traffic_light'], ['trafficlight', 'traffic_light'], ['cellphone', 'cell_phone'],
    ['aeroplane', 'airplane'], ['motorbike', 'motorcycle'], ['sofa', 'couch'], ['tvmonitor', 'tv'], ['diningtable', 'dining_table'],
    ['pottedplant', 'potted_plant'], ['animal', 'animal'], ['kitchen', 'kitchen'],
  ] as const) tt.equal(canon(raw), want, raw);
  tt.ok(objectClassIds('animal').length === 10, 'animal stands for the 10 animal classes');
});

t.test('several classes, fallbacks, weights and avoid', async (tt) => {
  tt.same(gravity.parse('dog:cat'), { kind: 'object', names: ['dog', 'cat'], fallback: 'center' });
  tt.same(gravity.parse('dog:auto:bird'), { kind: 'object', names: ['dog'], fallback: { kind: 'auto', focus: 'default', objects: [{ name: 'bird', weight: 100, avoid: false }] } });
  tt.equal(canon('cat:dog:auto:microwave_30:bicycle_avoid'), 'cat:dog:auto:microwave_30:bicycle_avoid');
  tt.same(gravity.parse('auto:cat_30:dog_avoid'), { kind: 'auto', focus: 'default', objects: [{ name: 'cat', weight: 30, avoid: false }, { name: 'dog', weight: 100, avoid: true }] });
  tt.equal(canon('auto:aeroplane_0'), 'auto:airplane_0');
  tt.equal(canon('auto'), 'auto', 'plain g_auto unchanged');
  tt.equal(canon('auto:subject'), 'auto:subject');
});

t.test('what is refused (400)', async (tt) => {
  for (const raw of ['unicorn', 'auto:unicorn', 'auto:cat_101', 'cat:unicorn', 'auto:ocr_text', 'auto:subject:faces', 'cat:auto:unicorn']) {
    let status: unknown;
    try { gravity.parse(raw); } catch (e) { status = (e as { statusCode?: number }).statusCode; }
    tt.equal(status, 400, raw);
  }
});

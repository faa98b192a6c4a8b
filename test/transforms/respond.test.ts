/**
 * The `respond` hook (transforms/types.ts): the transforms that shape the answer after encoding
 * (fl_getinfo, fl_attachment, fl_immutable_cache, dpr), walked in plan order as
 * src/pipeline/produce.ts walks them. The route has no special case for any of them. And the
 * `inspect` hook that feeds it what the source holds (fl_getinfo's objects), which the renderer
 * calls without knowing any parameter (end to end: test/analyze/objects.test.ts).
 */
import t from 'tap';
import { TRANSFORMS } from '../../transforms/index.ts';
import type { Component, Findings, RespondContext } from '../../transforms/types.ts';
import { parsePlan } from '../../src/plan/parse.ts';
import { testConfig } from '../../src/config.ts';

const config = testConfig({ dprCap: 3 });

/** The answer a plan's respond hooks shape for a 300×200 JPEG made from a 600×400 PNG. */
function shape(transformation: string, findings: Findings = {}): RespondContext {
  const plan = parsePlan(transformation.split('/'));
  const rc: RespondContext = {
    config,
    input: { width: 600, height: 400, format: 'png', bytes: 5000 },
    output: { width: 300, height: 200, format: 'jpeg', bytes: 1200, extension: 'jpg', crop: { x: 10, y: 0, width: 580, height: 400 } },
    name: 'red',
    findings,
  };
  for (const c of plan.components) {
    for (const tr of TRANSFORMS) {
      const v = (c as Component & Record<string, unknown>)[tr.planKey];
      if (v !== undefined && tr.respond) tr.respond(v as never, rc);
    }
  }
  return rc;
}

t.test('the transforms that have a respond hook', async (t) => {
  t.same(TRANSFORMS.filter((tr) => tr.respond).map((tr) => tr.key).sort(), ['dpr', 'fl']);
});

t.test('fl_attachment names the download; a later component wins', async (t) => {
  t.equal(shape('w_300,fl_attachment').attachment, 'red.jpg');
  t.equal(shape('fl_attachment:my-file').attachment, 'my-file.jpg');
  t.equal(shape('fl_attachment:first/fl_attachment').attachment, 'red.jpg');
  t.equal(shape('w_300').attachment, undefined);
});

t.test('fl_getinfo answers JSON, never as an attachment, in whichever component', async (t) => {
  const info = shape('w_300,fl_getinfo');
  t.same(info.json, {
    input: { width: 600, height: 400, format: 'png', bytes: 5000 },
    output: { width: 300, height: 200, format: 'jpeg', bytes: 1200 },
    crop: { x: 10, y: 0, width: 580, height: 400 },
  });
  for (const p of ['fl_getinfo.attachment', 'fl_attachment/fl_getinfo', 'fl_getinfo/fl_attachment']) {
    const rc = shape(p);
    t.ok(rc.json !== undefined, `${p}: JSON`);
    t.equal(rc.attachment, undefined, `${p}: no attachment`);
  }
});

t.test('dpr reports the last DPR applied, capped; fl_immutable_cache marks the result', async (t) => {
  t.equal(shape('w_300').dpr, undefined, 'none: 1 is the default');
  t.equal(shape('dpr_2/w_300,dpr_1.5').dpr, 1.5);
  t.equal(shape('w_300,dpr_5').dpr, 3, 'held to APERTURE_DPR_CAP');
  t.equal(shape('w_300,fl_immutable_cache').immutable, true);
  t.equal(shape('w_300').immutable, undefined);
});

t.test('fl_getinfo lists the objects its inspect hook found, in input pixels', async (t) => {
  const objects = [{ class: 'cat', score: 0.8, box: { x: 5, y: 6, width: 70, height: 80 } }];
  t.same((shape('w_300,fl_getinfo', { objects }).json as { objects?: unknown }).objects, objects);
  t.notOk((shape('w_300,fl_getinfo').json as { objects?: unknown }).objects, 'nothing found: no objects key');
});

t.test('the transforms that have an inspect hook; fl_ looks only for fl_getinfo with detection on', async (t) => {
  const inspectors = TRANSFORMS.filter((tr) => tr.inspect);
  t.same(inspectors.map((tr) => tr.key), ['fl']);
  const fl = inspectors[0]!;
  // No canvas is handed: a hook that went on to analyse would throw.
  const none = undefined as never;
  const ctx = (objects: boolean) => ({ config: testConfig({ objects }), prefix: 'w_300' }) as never;
  t.equal(await fl.inspect!({ attachment: true } as never, none, ctx(true)), undefined, 'no getinfo: nothing looked at');
  t.equal(await fl.inspect!({ getinfo: true } as never, none, ctx(false)), undefined, 'APERTURE_OBJECTS=0: nothing looked at');
  await t.rejects(Promise.resolve().then(() => fl.inspect!({ getinfo: true } as never, none, ctx(true))), 'getinfo with detection on analyses the canvas');
});

/**
 * The `respond` hook (transforms/types.ts): the transforms that shape the answer after encoding
 * (fl_getinfo, fl_attachment, fl_immutable_cache, dpr), walked in plan order as
 * src/pipeline/produce.ts walks them. The route has no special case for any of them.
 */
import t from 'tap';
import { TRANSFORMS } from '../../transforms/index.ts';
import type { Component, RespondContext } from '../../transforms/types.ts';
import { parsePlan } from '../../src/plan/parse.ts';
import { testConfig } from '../../src/config.ts';

const config = testConfig({ dprCap: 3 });

/** The answer a plan's respond hooks shape for a 300×200 JPEG made from a 600×400 PNG. */
function shape(transformation: string): RespondContext {
  const plan = parsePlan(transformation.split('/'));
  const rc: RespondContext = {
    config,
    input: { width: 600, height: 400, format: 'png', bytes: 5000 },
    output: { width: 300, height: 200, format: 'jpeg', bytes: 1200, extension: 'jpg', crop: { x: 10, y: 0, width: 580, height: 400 } },
    name: 'red',
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

/**
 * Rounding rules of dpr_auto / w_auto (url-api.md §4) and the w_auto grammar, as pure
 * functions; the same rules through HTTP are in route.test.ts.
 */
import t from 'tap';
import {
  autoDpr, requiredWidth, roundWidth, snapToBreakpoint, parseAutoWidth, autoWidthCanonical, MIN_STEP,
} from '../../src/responsive/auto-width.ts';
import { width } from '../../transforms/width.ts';
import { dpr } from '../../transforms/dpr.ts';

t.test('dpr_auto: rounded up, no hint → 1, capped', async (t) => {
  t.equal(autoDpr({ dpr: 1.3 }, 3), 2, '1.3 → 2');
  t.equal(autoDpr({ dpr: 2 }, 3), 2, 'integers stay');
  t.equal(autoDpr({ dpr: 2.01 }, 3), 3);
  t.equal(autoDpr({ dpr: 0.75 }, 3), 1, 'below 1 → 1');
  t.equal(autoDpr({ dpr: 4 }, 3), 3, 'cap');
  t.equal(autoDpr({ dpr: 2.5 }, 2), 2, 'configured cap');
  t.equal(autoDpr({}, 3), 1, 'no hint → 1');
});

t.test('w_auto required width: Width hint, else Viewport-Width × DPR, else fallback × component DPR', async (t) => {
  t.equal(requiredWidth({ width: 823, viewportWidth: 400, dpr: 2 }, 3, 387, 1), 823, 'Width hint wins, already device px');
  t.equal(requiredWidth({ viewportWidth: 390, dpr: 1.5 }, 3, 387, 1), 780, 'viewport × DPR bucket (1.5 → 2)');
  t.equal(requiredWidth({ viewportWidth: 390 }, 3, undefined, 1), 390, 'no DPR hint → × 1');
  t.equal(requiredWidth({ viewportWidth: 1000, dpr: 5 }, 3, undefined, 1), 3000, 'DPR capped');
  t.equal(requiredWidth({}, 3, 387, 1), 387, 'fallback');
  t.equal(requiredWidth({}, 3, 387, 2), 774, 'fallback is CSS px: × the component DPR');
  t.equal(requiredWidth({}, 3, undefined, 2), undefined, 'nothing → no width');
});

t.test('rounding up to the step, floor on the step, cap', async (t) => {
  t.equal(roundWidth(387, 100, 8192), 400, 'w_auto:100:387 without hints → 400');
  t.equal(roundWidth(400, 100, 8192), 400, 'a multiple stays');
  t.equal(roundWidth(401, 100, 8192), 500);
  t.equal(roundWidth(1, 100, 8192), 100);
  t.equal(roundWidth(310, 50, 8192), 350);
  t.equal(roundWidth(101, 1, 8192), 110, `steps below ${MIN_STEP} are raised to it`);
  t.equal(roundWidth(90_000, 100, 8192), 8192, 'capped at the output limit');
  const seen = new Set<number>();
  for (let w = 1; w <= 8192 * 2; w++) seen.add(roundWidth(w, 100, 8192));
  t.equal(seen.size, 82, 'default step: at most maxOutputSide/100 + 1 widths whatever the hint');
});

t.test('snapping to breakpoints', async (t) => {
  const bps = [50, 320, 611, 870, 1000];
  t.equal(snapToBreakpoint(bps, 1), 50);
  t.equal(snapToBreakpoint(bps, 50), 50);
  t.equal(snapToBreakpoint(bps, 51), 320);
  t.equal(snapToBreakpoint(bps, 611), 611);
  t.equal(snapToBreakpoint(bps, 612), 870);
  t.equal(snapToBreakpoint(bps, 5000), 1000, 'beyond the max → the max');
  t.equal(snapToBreakpoint([700], 100), 700);
});

t.test('grammar: accepted, canonical round trip', async (t) => {
  const cases: Array<[string, string]> = [
    ['auto', 'auto'],
    ['auto:100', 'auto'],
    ['auto:50', 'auto:50'],
    ['auto:100:387', 'auto:100:387'],
    ['auto:breakpoints', 'auto:breakpoints_50_1000_20_20'],
    ['auto:breakpoints:json', 'auto:breakpoints_50_1000_20_20:json'],
    ['auto:breakpoints_100_2000_30_10', 'auto:breakpoints_100_2000_30_10'],
    ['auto:breakpoints_200_1920:640', 'auto:breakpoints_200_1920_20_20:640'],
  ];
  for (const [raw, canon] of cases) {
    const a = parseAutoWidth(raw);
    t.equal(autoWidthCanonical(a), canon, raw);
    t.same(parseAutoWidth(canon), a, `${raw}: canonical parses back to the same value`);
    t.equal(width.canonical!(width.parse(raw)), canon, `w_${raw} through the transform`);
    t.ok(width.dynamic!(width.parse(raw)), `w_${raw} is resolved per request`);
  }
  t.notOk(width.dynamic!(width.parse('300')), 'w_300 is not dynamic');
  t.equal(width.canonical!(undefined as never), 'none', 'resolved "no width" prints in the variant');
});

t.test('grammar: rejected with the width message', async (t) => {
  for (const raw of ['auto:', 'auto:0', 'auto:abc', 'auto:100:0', 'auto:100:387:1', 'autox', 'auto:breakpoints_10_5',
    'auto:breakpoints_1_2_3_4_5', 'auto:breakpoints_50_1000_20_0', 'auto:breakpoints:jsn', 'auto:breakpoints_a']) {
    t.throws(() => width.parse(raw), { message: `Invalid width in transformation: ${raw}` }, raw);
  }
});

t.test('dpr transform: auto parses, prints and is dynamic; numbers are not', async (t) => {
  const a = dpr.parse('auto');
  t.equal(dpr.canonical!(a), 'auto');
  t.ok(dpr.dynamic!(a));
  t.equal(dpr.canonical!(dpr.parse('2.5')), '2.5');
  t.notOk(dpr.dynamic!(dpr.parse('2')));
  t.throws(() => dpr.parse('autox'), { message: 'Invalid dpr in transformation: autox' });
});

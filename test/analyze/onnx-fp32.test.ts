/**
 * The fp16 → fp32 rewrite of the background removal model (src/analyze/onnx-fp32.ts) on the real
 * model files: the protobuf walker is lossless, the rewrite leaves no fp16 behind, and a model
 * without fp16 (small, 8-bit) is left as it is. That the rewritten medium model gives the same
 * masks is shown end to end by test/transforms/effects-bgremoval.test.ts (medium is the default
 * model) and measured by bench/bgremoval-fp32.ts.
 */
import t from 'tap';
import { HALF, counts, parse, ser, toFp32 } from '../../src/analyze/onnx-fp32.ts';
import { modelBytes } from '../../src/analyze/bgremoval-protocol.ts';

t.test('the fp16 table', async (t) => {
  t.equal(HALF[0x3c00], 1);
  t.equal(HALF[0xc000], -2);
  t.equal(HALF[0x3555], Math.fround(0.333251953125));
  t.equal(HALF[0x0001], 2 ** -24, 'the smallest subnormal');
  t.equal(HALF[0x7bff], 65504, 'the largest normal');
  t.equal(HALF[0x7c00], Infinity);
  t.ok(Number.isNaN(HALF[0x7e00]), 'NaN');
  t.ok(Object.is(HALF[0x8000], -0), 'negative zero');
});

t.test('the real models', async (t) => {
  const medium = modelBytes('medium');
  t.ok(ser(parse(medium)).equals(medium), 'parse then serialize gives the model back byte for byte');
  const fp32 = toFp32(medium);
  const first = { ...counts };
  t.ok(first.tensors > 100 && first.casts > 0 && first.types > 0, `medium: ${first.tensors} fp16 tensors, ${first.casts} casts, ${first.types} value types rewritten`);
  t.ok(fp32.length > 1.9 * medium.length && fp32.length < 2.1 * medium.length, `the weights doubled (${medium.length} → ${fp32.length} bytes)`);
  const again = toFp32(fp32);
  t.same(counts, { tensors: 0, casts: 0, types: 0 }, 'no fp16 is left: a second rewrite changes nothing');
  t.ok(again.equals(fp32), 'and gives the same bytes');
  const small = modelBytes('small');
  t.ok(toFp32(small).equals(small), 'small (8-bit) has no fp16 and is left as it is');
  t.same(counts, { tensors: 0, casts: 0, types: 0 });
});

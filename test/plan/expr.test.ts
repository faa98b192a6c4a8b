/**
 * The expression module (src/plan/expr.ts) on its own: tokens, precedence, conversions,
 * conditions, and which raw values count as computed (plain ones must not).
 */
import t from 'tap';
import { computedOf, evaluate, parseCondition, parseValueExpr, parseVariableValue, test, tokenize, type Env, type Value } from '../../src/plan/expr.ts';
import { isHttpError } from '../../src/errors.ts';

function env(names: Record<string, Value> = {}, vars: Record<string, Value> = {}): Env {
  return {
    name: (n) => names[n] ?? 0,
    variable: (n) => vars[n],
    context: (k) => (k === 'kind' ? 'shoes' : ''),
    metadata: () => '',
  };
}
const calc = (raw: string, e = env({ iw: 400, ih: 300, w: 200, h: 100 })) => evaluate(parseVariableValue('v', raw), e);

t.test('tokens', async (t) => {
  t.same(tokenize('iw_div_2'), ['iw', 'div', '2']);
  t.same(tokenize('iw%2F2'), ['iw', '/', '2'], 'percent-encoded symbol');
  t.same(tokenize('iw-20'), ['iw', '-', '20'], '`-` after an operand is the operator');
  t.same(tokenize('-20_add_iw'), ['-20', 'add', 'iw'], 'a leading `-` is a sign');
  t.same(tokenize('!a_b!_in_tags'), ['!a_b!', 'in', 'tags'], 'strings keep their `_`');
  t.same(tokenize('ctx:!kind!_eq_!shoes!'), ['ctx:!kind!', 'eq', '!shoes!']);
  t.equal(tokenize('!open'), undefined, 'an unclosed string');
});

t.test('precedence and conversions', async (t) => {
  t.equal(calc('1_add_2_mul_3'), 7, 'mul before add');
  t.equal(calc('2_mul_3_pow_2'), 36, 'mul and pow share a level, left to right');
  t.equal(calc('10_sub_4_sub_3'), 3, 'left to right');
  t.equal(calc('iw_mul_2_add_ih_mul_2'), 1400, 'the docs\' perimeter');
  t.equal(calc('7_mod_4'), 3);
  t.equal(calc('iw%2B10'), 410);
  t.equal(calc('iw_div_3_to_i'), 133, 'to_i truncates what is to its left');
  t.equal(calc('iw_div_3_to_i_add_1'), 134, 'and the rest continues from it');
  t.equal(calc('!12.5!_to_f_mul_2'), 25, 'a numeric string converted');
  t.equal(calc('$a_mul_2', env({}, { a: 21 })), 42);
});

t.test('errors name the expression', async (t) => {
  const msg = (f: () => unknown) => { try { f(); return 'no error'; } catch (e) { return isHttpError(e) ? `${e.statusCode} ${e.message}` : `crash ${String(e)}`; } };
  t.equal(msg(() => calc('w_div_0')), '400 Invalid expression in transformation: w_div_0 (division by zero)');
  t.equal(msg(() => calc('w_div_h_sub_100')), 'no error', '(w / h) - 100, not w / (h - 100)');
  t.equal(msg(() => calc('2_pow_2000')), '400 Invalid expression in transformation: 2_pow_2000 (the result is not a finite number)');
  t.equal(msg(() => calc('$nope')), '400 Invalid expression in transformation: $nope (variable $nope is used before it is defined)');
  t.equal(msg(() => calc('!x!_add_1')), '400 Invalid expression in transformation: !x!_add_1 ("x" is not a number)');
  t.equal(msg(() => calc('tags_add_1', env({ tags: ['a'] }))), '400 Invalid expression in transformation: tags_add_1 (a list is not a number)');
});

t.test('conditions', async (t) => {
  const e = env({ w: 1200, h: 800, ar: 1.5, tags: ['sale', 'new'] });
  const yes = (c: string) => test(parseCondition(c), e);
  t.ok(yes('w_gt_1000'));
  t.notOk(yes('w_lt_1000'));
  t.ok(yes('ar_gt_4:3'), 'a ratio literal');
  t.ok(yes('w_gt_2000_or_h_eq_800'));
  t.notOk(yes('w_gt_2000_or_h_eq_800_and_w_lt_10'), 'and binds tighter than or');
  t.ok(yes('!sale!_in_tags'));
  t.ok(yes('!sale:new!_in_tags'), 'every listed value');
  t.notOk(yes('!sale:old!_in_tags'));
  t.ok(yes('!old!_nin_tags'));
  t.ok(yes('ctx:!kind!_eq_!shoes!'));
  t.ok(yes('ctx:!missing!_eq_!!'), 'a missing key is empty');
  t.ok(yes('w_mul_2_gt_h_add_1000'), 'expressions on both sides');
});

t.test('what counts as computed', async (t) => {
  for (const plain of ['100', '0.5', '-20', 'auto', 'auto:good', 'north_east', 'auto_left', 'fill_pad', 'rgb:ff0000', '1-3', 'hflip.vflip']) {
    t.equal(parseValueExpr(plain), undefined, `${plain}: left to its parser`);
  }
  for (const c of ['iw', 'iw_div_2', '$w', 'w_sub_20', 'iw%2F2', '$a_to_i']) t.ok(parseValueExpr(c), `${c}: computed`);
  t.equal(computedOf('blur:300', 'parts'), undefined);
  t.ok(computedOf('blur:$b', 'parts'));
  t.equal(computedOf('5px_solid_red', 'words'), undefined);
  t.ok(computedOf('5px_solid_$c', 'words'));
});

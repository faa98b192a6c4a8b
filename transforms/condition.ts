/**
 * `if_<condition>` — conditional transformations (url-api.md §8): `if_w_gt_1000`,
 * `if_ar_gt_3:4_and_w_gt_300`, `if_!sale!_in_tags`, `if_ctx:!kind!_eq_!shoes!`. Among other
 * parameters the condition applies to its own component only (`if_w_gt_1000,c_scale,w_500`);
 * alone (or beside variables only, which then belong to the block) it opens a block up to
 * `if_end`, with an optional `if_else` branch; beside variables with no `if_end` after it, it
 * gates those variables only. Blocks do not nest.
 * `if_else` among other parameters right after an inline condition is that condition's else
 * (`if_ar_gt_1.2,c_pad,w_480/if_else,c_pad,w_480,b_blurred`: Cloudinary's own example).
 * Consumed by src/plan/compute.ts through the `flow` hook: the resolved plan never holds it.
 */
import { defineTransform, type Component } from './types.ts';
import { parseCondition, type Condition } from '../src/plan/expr.ts';
import { Errors } from '../src/errors.ts';

export type ConditionValue = Condition | { readonly branch: 'else' | 'end' };

declare module './types.ts' {
  interface PlanValues { condition: ConditionValue }
}

const isEnd = (c: Component): boolean => {
  const v = c.condition;
  return v !== undefined && 'branch' in v && v.branch === 'end';
};

export const condition = defineTransform({
  key: 'if',
  planKey: 'condition',
  name: 'condition',
  phase: 'input',
  parse(raw): ConditionValue {
    if (raw === 'else' || raw === 'end') return { branch: raw };
    return parseCondition(raw);
  },
  canonical: (c) => ('branch' in c ? c.branch : c.text),
  async flow(c, component, f) {
    // Variables beside a condition belong to its block (the SDKs write `if_…,$v_…/…/if_end`),
    // unless no `if_end` follows: then the condition sets those variables only, and an
    // `if_else,$v_…` after it is its else (Cloudinary's own examples:
    // `if_ar_lt_1.0,$height_300/if_else,$height_200/h_$height`).
    const withVariables = Object.keys(component).length > 1;
    const alone = f.bare && (!withVariables || f.later.some(isEnd));
    if ('branch' in c) {
      if (c.branch === 'else') return f.otherwise(!alone);
      if (!alone) throw new Errors.INVALID_PARAM('condition', 'if_end (takes a component of its own)');
      return f.close();
    }
    if (alone) {
      f.open(f.active ? await f.test(c) : false, c.text);
    } else if (f.active) {
      f.only(await f.test(c));
    }
  },
});

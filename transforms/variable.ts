/**
 * `$<name>_<value>` — a user-defined variable (url-api.md §8): a number, an arithmetic
 * expression (`$size_iw_div_4`, `$x_$w_add_10`), a string (`$label_!Sale!`), `ctx:!key!` or
 * `md:!key!`, optionally converted (`_to_i`, `_to_f`), or an asset reference
 * (`ref:!folder:id!`; `current`, the asset delivered) that `l_$name`/`u_$name` draw and nothing
 * reads as a value. Defined in a component, visible to every later component (and inside
 * named transformations and layers); several may stand in one component, defined left to
 * right. Read as `w_$size`, or `$(label)` in text layers.
 * Consumed by src/plan/compute.ts through the `flow` hook: the resolved plan never holds it.
 */
import { defineTransform } from './types.ts';
import { parseVariableValue, splitVariable, type Expr } from '../src/plan/expr.ts';

export interface VariableDef {
  readonly name: string;
  readonly value: Expr;
}

declare module './types.ts' {
  interface PlanValues { variables: readonly VariableDef[] }
}

export const variable = defineTransform({
  key: '$',
  planKey: 'variables',
  name: 'variable',
  phase: 'input',
  parse(raw): readonly VariableDef[] {
    const { name, value } = splitVariable(raw);
    return [{ name, value: parseVariableValue(name, value) }];
  },
  canonical: (defs) => defs.map((d) => `${d.name}_${d.value.text}`).join(',$'),
  merge: (a, b) => [...a, ...b],
  async flow(defs, _component, f) {
    if (!f.active) return;
    for (const d of defs) f.bind(d.name, await f.evaluate(d.value));
  },
});

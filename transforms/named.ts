/**
 * `t_<name>[.<name>…]` — named transformations (Cloudinary `transformation`), defined in
 * configuration (`APERTURE_NAMED_TRANSFORMATIONS`, a JSON object name → transformation string,
 * components separated by `/`). Expanded at plan time, in place.
 */
import { defineTransform } from './types.ts';
import { Errors } from '../src/errors.ts';
import { own } from './args.ts';

declare module './types.ts' {
  interface PlanValues { named: string[] }
}

export const named = defineTransform({
  key: 't', planKey: 'named', name: 'transformation', phase: 'input',
  parse(raw) {
    const names = raw.split('.');
    for (const n of names) if (!/^[\w-]{1,100}$/.test(n)) throw new Errors.INVALID_PARAM('transformation', raw);
    return names;
  },
  canonical: (v) => v.join('.'),
  expand(names, table) {
    return names.flatMap((n) => {
      const def = own(table, n);
      if (def === undefined) throw new Errors.UNSUPPORTED(`t_${n}`, 'no such named transformation is configured');
      return def.split('/').filter(Boolean);
    });
  },
});

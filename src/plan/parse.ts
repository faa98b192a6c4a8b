/**
 * Transformation text → typed plan, through the transforms registry. Parsing is pure and
 * memoized by the exact text (SDK URLs repeat the same few strings).
 */
import { LRUCache } from 'lru-cache';
import { BY_KEY, UNSUPPORTED_BY_KEY, isKnownKey, type Component, type PlanKey } from '../../transforms/index.ts';
import { Errors } from '../errors.ts';

export interface Plan {
  readonly components: readonly Component[];
  /** Canonical text: sorted keys, canonical values; equal plans have equal text. */
  readonly canonical: string;
}

/** Split a token into key and raw value: `w_100` → [w, 100]; `$var_1` → [$, …]; `if_w_gt_1` → [if, …]. */
export function splitToken(token: string): [string, string] {
  if (token.startsWith('$')) return ['$', token.slice(1)];
  const i = token.indexOf('_');
  if (i <= 0) return [token, ''];
  return [token.slice(0, i), token.slice(i + 1)];
}

const KEY_SHAPE = /^[a-z]{1,4}$/;

/**
 * Does this URL segment read as a transformation component? Every token must look like
 * `key_value` with a short lower-case key, and at least one key must be known, so that
 * `w_100,zz_1` is a component (answered "Unknown transformation zz_1") while a folder such as
 * `my_photos` stays part of the public id.
 */
export function looksLikeComponent(segment: string): boolean {
  if (!segment) return false;
  let known = false;
  for (const token of segment.split(',')) {
    const [key, value] = splitToken(token);
    if (!value) return false;
    if (key === '$') { known = true; continue; }
    if (!KEY_SHAPE.test(key)) return false;
    if (isKnownKey(key)) known = true;
  }
  return known;
}

function parseComponentText(text: string, named: Readonly<Record<string, string>>, depth: number): Component[] {
  const comp: Component = {};
  const before: Component[] = [];
  let any = false;
  for (const token of text.split(',')) {
    if (!token) throw new Errors.BAD_URL(`empty parameter in "${text}"`);
    const [key, raw] = splitToken(token);
    const def = BY_KEY.get(key);
    if (!def) {
      const u = UNSUPPORTED_BY_KEY.get(key);
      if (u) throw new Errors.UNSUPPORTED(token, u.reason);
      throw new Errors.UNKNOWN_TRANSFORMATION(token);
    }
    if (raw === '') throw new Errors.INVALID_PARAM(def.name, raw);
    const value = def.parse(raw);
    if (def.expand) {
      if (depth > 5) throw new Errors.INVALID_PARAM(def.name, `${raw} (named transformations nest too deep)`);
      for (const sub of def.expand(value as never, named)) before.push(...parseComponentText(sub, named, depth + 1));
      continue;
    }
    const k = def.planKey as PlanKey;
    if (comp[k] !== undefined && key !== 'fl') throw new Errors.INVALID_PARAM(def.name, `${raw} (given twice in one component)`);
    if (key === 'fl' && comp.flags) {
      (comp as Record<string, unknown>)[k] = { ...comp.flags, ...(value as object) };
    } else {
      (comp as Record<string, unknown>)[k] = value;
    }
    any = true;
  }
  return any ? [...before, comp] : before;
}

/** Canonical text of one component: registry order, canonical values. */
export function canonicalComponent(c: Component): string {
  const parts: string[] = [];
  for (const [key, def] of BY_KEY) {
    if (def.key !== key) continue;
    const v = (c as Record<string, unknown>)[def.planKey];
    if (v === undefined) continue;
    parts.push(`${key}_${def.canonical ? def.canonical(v as never) : JSON.stringify(v)}`);
  }
  return parts.sort().join(',');
}

const memo = new LRUCache<string, Plan>({ max: 10_000 });

/**
 * Parse the component segments of a URL. `named` is the named-transformation table from config.
 * Throws Errors.* with the offending parameter named.
 */
export function parsePlan(segments: readonly string[], named: Readonly<Record<string, string>> = {}, maxComponents = 1000): Plan {
  const key = segments.join('/');
  const hit = memo.get(key);
  if (hit) return hit;
  const components = segments.flatMap((s) => parseComponentText(s, named, 0));
  if (components.length > maxComponents) throw new Errors.BAD_URL(`too many components (${components.length} > ${maxComponents})`);
  const plan: Plan = { components, canonical: components.map(canonicalComponent).join('/') };
  memo.set(key, plan);
  return plan;
}

/** For tests and benchmarks: forget memoized plans. */
export function clearPlanMemo(): void {
  memo.clear();
}

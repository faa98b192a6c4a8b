/**
 * Transformation text → typed plan, through the transforms registry. Parsing is pure and
 * memoized by the exact text (SDK URLs repeat the same few strings); memoized plans are frozen.
 */
import { BY_KEY, TRANSFORMS, UNSUPPORTED_BY_KEY, isKnownKey, type Component, type LayerSpec, type Placement, type PlanKey } from '../../transforms/index.ts';
import type { Plan } from '../../transforms/types.ts';
import { Errors } from '../errors.ts';
import { defaultOf } from '../config.ts';
import { deepFreeze, memoizedParse, parseMemo, settingSized } from '../cache/memo.ts';
import { Computed, computedOf } from './expr.ts';

// Declared with the transform contract, which hands plans to transforms (layers, resolvers).
export type { Plan };

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

/** What parsing learns about the whole plan. */
interface ParseState {
  /** Some value is computed, or a variable or condition appears (url-api.md §8). */
  computed: boolean;
}

function parseComponentText(text: string, named: Readonly<Record<string, string>>, depth: number, state: ParseState): Component[] {
  const comp: Component = {};
  const before: Component[] = [];
  let any = false;
  /** Tokens of values that need a reader (TransformDef.inert), as written, for the 400. */
  let tokens: Map<string, string> | undefined;
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
    if (def.inert) (tokens ??= new Map()).set(def.planKey, token);
    // Computed values (url-api.md §8) stay expressions until the source is known; `$` anywhere
    // (a variable read, `$(name)` in a text) or a language key makes the plan one to resolve.
    const computed = def.computes ? computedOf(raw, def.computes) : undefined;
    if (computed || def.flow || raw.includes('$')) state.computed = true;
    const value = computed ?? def.parse(raw);
    if (def.expand) {
      if (depth > 5) throw new Errors.INVALID_PARAM(def.name, `${raw} (named transformations nest too deep)`);
      for (const sub of def.expand(value as never, named)) before.push(...parseComponentText(sub, named, depth + 1, state));
      continue;
    }
    const k = def.planKey as PlanKey;
    if (comp[k] !== undefined && def.merge) {
      (comp as Record<string, unknown>)[k] = def.merge(comp[k] as never, value as never);
      any = true;
      continue;
    }
    if (comp[k] !== undefined) throw new Errors.INVALID_PARAM(def.name, `${raw} (given twice in one component)`);
    (comp as Record<string, unknown>)[k] = value;
    any = true;
  }
  if (tokens) checkInert(comp, tokens);
  return any ? [...before, comp] : before;
}

/** Values that do nothing by themselves (TransformDef.inert) and the values that read settings. */
const INERT = TRANSFORMS.filter((t) => t.inert);
const READERS = TRANSFORMS.filter((t) => t.reads);

/**
 * A component holding a value that does nothing by itself (`co_`) needs a value that reads it
 * (a text layer, `e_colorize`…); else it is a 400 naming it, not a silent no-op. A reader whose
 * value is computed (`e_$name`) is assumed to read it: it is known once resolved.
 */
function checkInert(comp: Component, tokens: ReadonlyMap<string, string>): void {
  for (const t of INERT) {
    const v = (comp as Record<string, unknown>)[t.planKey];
    if (v === undefined) continue;
    const read = READERS.some((r) => {
      const rv = (comp as Record<string, unknown>)[r.planKey];
      return rv !== undefined && (rv instanceof Computed || r.reads!(rv as never).includes(t.planKey as PlanKey));
    });
    if (!read) {
      throw new Errors.INVALID_PARAM(t.name, `${tokens.get(t.planKey) ?? t.key} (nothing in its component reads it: it sets the colour of a text layer or of an effect that takes one, in the same component)`);
    }
  }
}

const DEF_BY_PLAN_KEY: ReadonlyMap<string, (typeof TRANSFORMS)[number]> = new Map(TRANSFORMS.map((t) => [t.planKey, t]));

/** Canonical text of one component: canonical values, sorted (walks the component's own keys only). */
export function canonicalComponent(c: Component): string {
  const parts: string[] = [];
  for (const k in c) {
    const v = (c as Record<string, unknown>)[k];
    const def = DEF_BY_PLAN_KEY.get(k);
    if (v === undefined || !def) continue;
    const key = def.key;
    // A symbol key (`$name_…`) is written without the `_` that follows a word key.
    const head = key.charCodeAt(0) === 36 ? key : `${key}_`;
    if (v instanceof Computed) { parts.push(`${head}${v.raw}`); continue; }
    parts.push(`${head}${def.canonical ? def.canonical(v as never) : JSON.stringify(v)}`);
  }
  return parts.sort().join(',');
}

/** Flags that only mean something for a layer; grouping consumes them. */
const LAYER_FLAGS = ['layerApply', 'relative', 'noOverflow', 'tiled', 'cutter', 'regionRelative', 'textNoTrim'] as const;
/** Transforms whose values may say how a layer is composited (TransformDef.layerPlacement). */
const PLACEMENT_HOOKS = TRANSFORMS.filter((t) => t.layerPlacement);

/**
 * The layer-placement fields the values of `c` set (blend modes), `c` without those values, and
 * the last such value as an error names it (`effect`, `multiply`).
 */
function placementValues(c: Component): { rest: Component; fields?: Record<string, unknown>; named?: [string, string] } {
  let rest = c;
  let fields: Record<string, unknown> | undefined;
  let named: [string, string] | undefined;
  for (const t of PLACEMENT_HOOKS) {
    const v = (c as Record<string, unknown>)[t.planKey];
    const f = v === undefined ? undefined : t.layerPlacement!(v as never);
    if (!f) continue;
    if (rest === c) rest = { ...c };
    delete (rest as Record<string, unknown>)[t.planKey];
    fields = { ...fields, ...f };
    named = [t.name, t.canonical ? t.canonical(v as never) : String(v)];
  }
  return { rest, ...(fields ? { fields, named } : {}) };
}
/** What an `fl_layer_apply` component may hold besides flags. */
const PLACEMENT_KEYS = new Set<string>(['gravity', 'x', 'y', 'flags']);

function layerOf(c: Component): LayerSpec | undefined {
  return c.layer ?? c.underlay;
}

function withoutLayerFlags(c: Component): Component {
  if (!c.flags) return c;
  const f = { ...c.flags };
  for (const k of LAYER_FLAGS) delete f[k];
  const out = { ...c };
  if (Object.values(f).some(Boolean)) out.flags = f; else delete out.flags;
  return out;
}

function placementOf(from: Component, opener: Component, spec: LayerSpec, hooked: Record<string, unknown> | undefined): Placement {
  const g = from.gravity;
  if (g && g.kind === 'auto') {
    throw new Errors.UNSUPPORTED(`g_auto${g.focus === 'default' ? '' : `:${g.focus}`}`, 'placing a layer by automatic gravity is not supported (use g_face or g_faces)');
  }
  if (g?.kind === 'liquid') throw new Errors.INVALID_PARAM('gravity', 'liquid (liquid rescaling resizes with c_scale: it places no layer)');
  const f = { ...opener.flags, ...from.flags };
  const key = spec.under ? 'u' : 'l';
  if (f.regionRelative && g?.kind !== 'face') {
    throw new Errors.INVALID_PARAM('flags', 'region_relative (needs g_face or g_faces to place the layer on)');
  }
  if (spec.under && (f.cutter || hooked?.blend)) {
    throw new Errors.INVALID_PARAM('underlay', `${f.cutter ? 'fl_cutter' : `e_${String(hooked!.blend)}`} (blend modes and fl_cutter apply to overlays, l_)`);
  }
  if (spec.source.kind === 'lut' && (g || from.x || from.y || LAYER_FLAGS.some((k) => k !== 'layerApply' && f[k]) || hooked)) {
    throw new Errors.INVALID_PARAM('overlay', 'lut (a LUT layer takes no placement, flags or blend mode)');
  }
  if (f.textNoTrim && spec.source.kind !== 'text') throw new Errors.INVALID_PARAM('flags', 'text_no_trim (only valid with a text layer)');
  if (g?.kind === 'face' && f.tiled) throw new Errors.INVALID_PARAM('flags', `tiled (with g_${g.multiple ? 'faces' : 'face'}: a ${key}_ layer is placed on faces)`);
  return {
    ...(g ? { gravity: g } : {}), ...(from.x ? { x: from.x } : {}), ...(from.y ? { y: from.y } : {}),
    ...(f.relative ? { relative: true } : {}), ...(f.regionRelative ? { regionRelative: true } : {}),
    ...(f.noOverflow ? { noOverflow: true } : {}), ...(f.tiled ? { tiled: true } : {}), ...(f.cutter ? { cutter: true } : {}),
    ...(f.textNoTrim ? { textNoTrim: true } : {}),
    ...hooked,
  };
}

/**
 * A relative layer's w/h written with a decimal point above 1 (`w_1.3`: 130 % of the base or
 * the face, Cloudinary's fl_region_relative examples) are multiples, not pixel counts.
 */
function multiples(c: Component): Component {
  const out = { ...c };
  if (c.width?.kind === 'px' && c.width.decimal !== undefined) out.width = { kind: 'fraction', value: c.width.decimal };
  if (c.height?.kind === 'px' && c.height.decimal !== undefined) out.height = { kind: 'fraction', value: c.height.decimal };
  return out;
}

/** Request-dependent values (`w_auto`…) are resolved for the base's components only. */
function assertStatic(c: Component): void {
  for (const t of TRANSFORMS) {
    const v = (c as Record<string, unknown>)[t.planKey];
    if (v !== undefined && t.dynamic?.(v as never)) throw new Errors.UNSUPPORTED(`${t.key}_auto`, 'automatic values inside a layer are not supported');
  }
}

/**
 * Layers (url-api.md §2 `l`, `u`): a component holding `l_`/`u_` opens a layer; its other
 * parameters and the following components up to the one with `fl_layer_apply` transform the
 * layer, and that component places it (g, x, y, layer flags). An opener that no
 * `fl_layer_apply` closes is self-contained: its own g/x/y place it. `fl_layer_apply` closes
 * the innermost open layer, so layers nest. Each layer becomes one component of its own
 * holding the whole layer, which the renderer composites in the overlay phase.
 */
function groupLayers(flat: readonly Component[]): Component[] {
  const closes = new Map<number, number>();
  const open: number[] = [];
  flat.forEach((c, i) => {
    const opens = layerOf(c) !== undefined;
    if (opens && c.layer && c.underlay) throw new Errors.INVALID_PARAM('overlay', 'l_ and u_ in one component');
    if (opens && c.flags?.layerApply) return;
    if (opens) open.push(i);
    else if (c.flags?.layerApply) {
      const j = open.pop();
      if (j === undefined) throw new Errors.INVALID_PARAM('flags', 'layer_apply (no layer to apply)');
      closes.set(j, i);
    }
  });
  const build = (from: number, to: number): Component[] => {
    const out: Component[] = [];
    for (let i = from; i < to; i++) {
      const c = flat[i];
      const spec = layerOf(c);
      if (!spec) {
        let b = c;
        // Outside a layer, fl_relative and fl_region_relative (Cloudinary lists them for every
        // crop mode) make w/h written with a decimal point multiples of the current image
        // (`w_1.5` is 150 %); fractions up to 1.0 already are. The flag stays in the component,
        // so the canonical text parses back to the same plan.
        if (b.flags?.relative || b.flags?.regionRelative) {
          if (b.flags.regionRelative && b.gravity?.kind === 'face') {
            throw new Errors.UNSUPPORTED('fl_region_relative', 'sizes relative to a face region apply to layers only (l_/u_ with g_face or g_faces)');
          }
          b = multiples(b);
        }
        if (b.flags && LAYER_FLAGS.some((k) => k !== 'relative' && k !== 'regionRelative' && b.flags![k])) {
          const k = LAYER_FLAGS.find((f) => f !== 'relative' && f !== 'regionRelative' && b.flags![f])!;
          throw new Errors.INVALID_PARAM('flags', `${k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`)} (only valid with a layer)`);
        }
        if (PLACEMENT_HOOKS.length) {
          const hooked = placementValues(b);
          if (hooked.named) throw new Errors.INVALID_PARAM(hooked.named[0], `${hooked.named[1]} (says how a layer is composited: only valid with l_ or in its fl_layer_apply component)`);
        }
        out.push(b);
        continue;
      }
      const end = closes.get(i);
      const openerHooks = placementValues(c);
      const { layer: _l, underlay: _u, ...rest } = withoutLayerFlags(openerHooks.rest);
      // The language's own keys (a condition, variables) in the opener apply to the layer as a
      // whole, not to its first transformation: they stay beside it.
      const lifted: Component = {};
      const restRec = rest as Record<string, unknown>;
      for (const k of Object.keys(restRec)) {
        if (DEF_BY_PLAN_KEY.get(k)?.flow) { (lifted as Record<string, unknown>)[k] = restRec[k]; delete restRec[k]; }
      }
      let own: Component, inner: Component[], placeFrom: Component;
      let hooked = openerHooks.fields;
      if (end === undefined) {
        // Self-contained: this component's g/x/y place the layer instead of cropping it.
        const { gravity: _g, x: _x, y: _y, ...layerOwn } = rest;
        own = layerOwn; inner = []; placeFrom = c;
      } else {
        const applyHooks = placementValues(flat[end]);
        if (applyHooks.fields) hooked = { ...hooked, ...applyHooks.fields };
        own = rest; inner = build(i + 1, end); placeFrom = applyHooks.rest;
        for (const k of Object.keys(placeFrom)) {
          if (!PLACEMENT_KEYS.has(k)) {
            const def = TRANSFORMS.find((t) => t.planKey === k);
            throw new Errors.UNSUPPORTED(`${def?.key ?? k}_ with fl_layer_apply`, 'the fl_layer_apply component takes only placement (g, x, y) and flags');
          }
        }
        i = end;
      }
      const placement = placementOf(placeFrom, c, spec, hooked);
      if ((placement.relative || placement.regionRelative) && Object.keys(own).length) own = multiples(own);
      const components = [own, ...inner].filter((x) => Object.keys(x).length > 0);
      components.forEach(assertStatic);
      if (spec.source.kind === 'lut' && components.length) {
        throw new Errors.INVALID_PARAM('overlay', `lut (a LUT layer takes no transformations: ${components.map(canonicalComponent).join('/')})`);
      }
      const grouped: LayerSpec = {
        ...spec, components, placement, nested: components.map(canonicalComponent).join('/'),
      };
      out.push(spec.under ? { ...lifted, underlay: grouped } : { ...lifted, layer: grouped });
      // An fl_layer_apply component's other flags (e.g. fl_getinfo) still apply to the base.
      if (end !== undefined) {
        const rem = withoutLayerFlags({ flags: placeFrom.flags });
        if (rem.flags) out.push(rem);
      }
    }
    return out;
  };
  return build(0, flat.length);
}

/** One memo per process, sized by APERTURE_PLAN_MEMO_BYTES (see cache/memo.ts). */
const memos = settingSized((bytes) => parseMemo<Plan>(bytes));
/** Named-transformation tables get a small id so plans parsed under different tables never mix. */
const tableIds = new WeakMap<object, number>();
let nextTableId = 0;
function tableId(named: object): number {
  let id = tableIds.get(named);
  if (id === undefined) {
    id = nextTableId++;
    tableIds.set(named, id);
  }
  return id;
}

/**
 * Parse the component segments of a URL. `named` is the named-transformation table from config.
 * Throws Errors.* with the offending parameter named. The plan (or the error) is memoized by the
 * text; the plan is frozen.
 */
const NO_NAMED: Readonly<Record<string, string>> = Object.freeze({});

export function parsePlan(segments: readonly string[], named: Readonly<Record<string, string>> = NO_NAMED, maxComponents = 1000,
  memoBytes = defaultOf('planMemoBytes')): Plan {
  return memoizedParse(memos.of(memoBytes), `${tableId(named)}:${maxComponents}:${segments.join('/')}`, () => {
    const state: ParseState = { computed: false };
    const components = groupLayers(segments.flatMap((s) => parseComponentText(s, named, 0, state)));
    if (components.length > maxComponents) throw new Errors.BAD_URL(`too many components (${components.length} > ${maxComponents})`);
    const canonical = components.map(canonicalComponent).join('/');
    return deepFreeze(state.computed ? { components, canonical, computed: true } : { components, canonical });
  });
}

/** For tests and benchmarks: forget memoized plans. */
export function clearPlanMemo(): void {
  memos.clear();
}

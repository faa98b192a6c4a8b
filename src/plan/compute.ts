/**
 * Resolution of computed values (url-api.md §8) once the source is known: walks the plan's
 * components in order, runs the language keys' `flow` hooks (variables bind, conditions keep
 * or skip components), evaluates every computed value against the predefined names and the
 * variables and hands the resulting text to its parameter's parser, and runs `compute` hooks
 * (layers). The result holds concrete values only, so the cache key built from it is the same
 * for every URL that computes the same plan.
 *
 * Names: `iw ih iar` the oriented source; `w h ar` (and `cw ch`, the canvas the component
 * draws on) the size after the components before, from the plan alone (plan-bounds.ts);
 * `pc` the source's pages, `cp` the 1-based page the components before select (`pg_`), else 1; `fc` faces and `ils` illustration score from the source's
 * analysis (ResolveServices.analysis); `tags ctx md` the asset's metadata (empty until storage
 * provides it).
 */
import { TRANSFORMS, type Component, type PlanKey, type TransformDef } from '../../transforms/index.ts';
import type { AssetMetadata, ComputeContext, FlowContext, LoadOptions, ResolveContext } from '../../transforms/types.ts';
import { Errors } from '../errors.ts';
import { AssetRef, Computed, evaluate, refUsedAsValue, test, valueText, type Env, type Expr, type Value } from './expr.ts';
import { canonicalComponent } from './parse.ts';

const BY_PLAN_KEY: ReadonlyMap<string, TransformDef<PlanKey>> = new Map(TRANSFORMS.map((t) => [t.planKey, t]));
const FLOW = TRANSFORMS.filter((t) => t.flow);
const COMPUTE = TRANSFORMS.filter((t) => t.compute);
const LOADS = TRANSFORMS.filter((t) => t.load);
const EMPTY_ASSET: AssetMetadata = { tags: [], context: {}, metadata: {} };
/** `$(name)` in text. */
const TEXT_REF = /\$\(([a-zA-Z][a-zA-Z0-9]*)\)/g;

/** What resolution reads besides the plan. */
export type ComputeInput = Pick<ResolveContext, 'meta' | 'config' | 'plannedSize' | 'asset' | 'current'> & {
  /** Face count and illustration score of the source (only asked when `fc`/`ils` are used). */
  analysis?: () => Promise<{ faces: number; illustration: number }>;
};

interface Block { ok: boolean; inElse: boolean; text: string }

class Resolver {
  readonly vars = new Map<string, Value>();
  private analysisP?: Promise<{ faces: number; illustration: number }>;

  constructor(private readonly input: ComputeInput) {}

  /** Sizes after the first n components of the list last asked about (walked once, step by step). */
  private sizes: { list: readonly Component[]; at: { width: number; height: number }[] } | undefined;

  private async size(before: readonly Component[]): Promise<{ width: number; height: number }> {
    const { meta, config } = this.input;
    if (!before.length) return { width: meta.width, height: meta.height };
    // `before` only grows while one list is resolved: continue the walk from the last size known.
    if (!this.sizes || this.sizes.at.length > before.length || before.slice(0, this.sizes.at.length).some((c, i) => c !== this.sizes!.list[i])) {
      this.sizes = { list: before, at: [] };
    }
    const at = this.sizes.at;
    this.sizes.list = before;
    while (at.length < before.length) {
      const from = at.length ? at[at.length - 1] : { width: meta.width, height: meta.height };
      const s = await this.input.plannedSize([before[at.length]], { ...meta, width: from.width, height: from.height }, config);
      if (!s) throw new Errors.UNSUPPORTED('w', 'the current size is not known from the plan here (after e_trim, an image layer, or over the limits)');
      at.push(s);
    }
    return at[before.length - 1];
  }

  private assetP?: Promise<AssetMetadata>;
  /** The asset's metadata, read once per resolution and only when an expression reads it. */
  private asset(): Promise<AssetMetadata> {
    const read = this.input.asset;
    return (this.assetP ??= read ? read().then((a) => a ?? EMPTY_ASSET) : Promise.resolve(EMPTY_ASSET));
  }

  private analysis(): Promise<{ faces: number; illustration: number }> {
    if (!this.input.analysis) return Promise.reject(new Errors.UNSUPPORTED('fc', 'image analysis is not available here'));
    this.analysisP ??= this.input.analysis();
    return this.analysisP;
  }

  /** 1-based page the components so far select (their `load` hooks, as the renderer opens the source); 1 when none does. */
  private page(before: readonly Component[], count: number): number {
    const o: LoadOptions = { autoOrient: true };
    for (const c of before) {
      for (const t of LOADS) {
        const v = (c as Record<string, unknown>)[t.planKey];
        if (v !== undefined) t.load!(v as never, o);
      }
    }
    // A page list (pg_2-4;6) selects its first page as the current one.
    if (o.pages) return (o.pages(count)[0] ?? 0) + 1;
    return (o.page ?? 0) + 1;
  }

  /** The environment for expressions reading `names`, with the canvas after `before`. */
  async env(names: readonly string[], before: readonly Component[]): Promise<Env> {
    const { meta } = this.input;
    const asset = names.some((n) => n === 'tags' || n === 'ctx' || n === 'md') ? await this.asset() : EMPTY_ASSET;
    const values = new Map<string, Value>();
    for (const n of names) {
      switch (n) {
        case 'iw': values.set(n, meta.width); break;
        case 'ih': values.set(n, meta.height); break;
        case 'iar': values.set(n, meta.width / meta.height); break;
        case 'w': case 'cw': values.set(n, (await this.size(before)).width); break;
        case 'h': case 'ch': values.set(n, (await this.size(before)).height); break;
        case 'ar': { const s = await this.size(before); values.set(n, s.width / s.height); break; }
        case 'pc': values.set(n, meta.pages); break;
        case 'cp': values.set(n, this.page(before, meta.pages)); break;
        case 'fc': values.set(n, (await this.analysis()).faces); break;
        case 'ils': values.set(n, (await this.analysis()).illustration); break;
        case 'tags': values.set(n, asset.tags); break;
        case 'ctx': values.set(n, Object.keys(asset.context)); break;
        case 'md': values.set(n, Object.keys(asset.metadata)); break;
      }
    }
    return {
      name: (n) => values.get(n) ?? 0,
      variable: (n) => this.vars.get(n),
      context: (k) => (Object.hasOwn(asset.context, k) ? asset.context[k] : ''),
      metadata: (k) => (Object.hasOwn(asset.metadata, k) ? asset.metadata[k] : ''),
      current: (name) => {
        const c = this.input.current;
        if (!c) throw new Errors.UNSUPPORTED(`$${name}_current`, 'the current asset is not known here');
        if (c.type === 'fetch') return new AssetRef(c.publicId, 'fetch');
        if (c.type !== 'upload') throw new Errors.UNSUPPORTED(`$${name}_current`, `the current asset of a ${c.type} delivery cannot be drawn as a layer (upload and fetch only)`);
        return new AssetRef(c.publicId + (c.ext ? `.${c.ext}` : ''));
      },
    };
  }

  /** `refs`: a variable definition, which may hold (or copy) an asset reference. */
  async evaluate(e: Expr, before: readonly Component[], refs = false): Promise<Value> {
    return evaluate(e, await this.env(e.names, before), refs);
  }

  text(s: string): string {
    if (!s.includes('$(')) return s;
    return s.replace(TEXT_REF, (_m, name: string) => {
      const v = this.vars.get(name);
      if (v === undefined) throw new Errors.INVALID_PARAM('text', `$(${name}) (variable $${name} is used before it is defined)`);
      if (v instanceof AssetRef) throw refUsedAsValue(name, v);
      return valueText(v);
    });
  }

  /** A computed value made concrete by its parameter's parser. */
  async concrete(def: TransformDef<PlanKey>, v: Computed, before: readonly Component[]): Promise<unknown> {
    const texts: string[] = [];
    for (const p of v.parts) texts.push(typeof p === 'string' ? p : valueText(await this.evaluate(p, before)));
    const text = texts.join('');
    try {
      return def.parse(text);
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 400) throw e;
      // A computed number for a parameter that takes integers is rounded (iw_div_3 → 167).
      const rounded = texts.map((t, i) => (typeof v.parts[i] !== 'string' && /^-?\d*\.\d+$/.test(t) ? String(Math.round(Number(t))) : t)).join('');
      if (rounded !== text) {
        try { return def.parse(rounded); } catch { /* the first error names the value */ }
      }
      throw new Errors.INVALID_PARAM(def.name, `${text} (computed from ${def.key}_${v.raw})`);
    }
  }

  /**
   * Resolve `components` in order. A layer's own components (`outer` given: the resolved base
   * components before the layer) read `w h cw ch ar` as the base canvas the layer is placed on.
   */
  async components(list: readonly Component[], outer?: readonly Component[]): Promise<Component[]> {
    const out: Component[] = [];
    const canvas = () => outer ?? out;
    let block: Block | undefined;
    /** The inline condition of the previous component, for an inline `if_else` after it. */
    let previous: boolean | undefined;
    for (const [i, c] of list.entries()) {
      let only = true;
      let inline: boolean | undefined;
      const f: FlowContext = {
        get active() { return only && (!block || (block.inElse ? !block.ok : block.ok)); },
        bare: Object.keys(c).every((k) => BY_PLAN_KEY.get(k)?.flow !== undefined),
        get later() { return list.slice(i + 1); },
        evaluate: (e) => this.evaluate(e, canvas(), true),
        test: async (cond) => test(cond, await this.env(cond.names, canvas())),
        bind: (name, value) => { this.vars.set(name, value); },
        open: (ok, text) => {
          if (block) throw new Errors.INVALID_PARAM('condition', `if_${text} (conditions do not nest: if_${block.text} is still open)`);
          block = { ok, inElse: false, text };
        },
        only: (ok) => { only = ok; inline = ok; },
        otherwise: (inlineElse) => {
          if (block && !block.inElse) { block.inElse = true; return; }
          if (inlineElse && !block && previous !== undefined) { only = !previous; return; }
          throw new Errors.INVALID_PARAM('condition', 'if_else (no open if_ block or inline condition before it)');
        },
        close: () => {
          if (!block) throw new Errors.INVALID_PARAM('condition', 'if_end (no open if_ block)');
          block = undefined;
        },
      };
      for (const t of FLOW) {
        const v = (c as Record<string, unknown>)[t.planKey];
        if (v !== undefined) await t.flow!(v as never, c, f);
      }
      previous = inline;
      if (!f.active) continue;
      const copy: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(c)) {
        const def = BY_PLAN_KEY.get(k);
        if (def?.flow) continue;
        copy[k] = v instanceof Computed && def ? await this.concrete(def, v, canvas()) : v;
      }
      for (const t of COMPUTE) {
        const v = copy[t.planKey];
        if (v !== undefined) copy[t.planKey] = await t.compute!(v as never, this.context(canvas()));
      }
      if (Object.keys(copy).length) out.push(copy as Component);
    }
    if (block) throw new Errors.INVALID_PARAM('condition', `if_${block.text} (no if_end)`);
    return out;
  }

  context(before: readonly Component[]): ComputeContext {
    return {
      text: (s) => this.text(s),
      value: async <T>(key: string, v: T): Promise<T> => {
        if (!(v instanceof Computed)) return v;
        const def = TRANSFORMS.find((t) => t.key === key);
        if (!def) throw new Errors.UNKNOWN_TRANSFORMATION(key);
        return (await this.concrete(def, v, before)) as T;
      },
      components: (list) => this.components(list, before),
      reference: (name) => {
        const v = this.vars.get(name);
        if (v === undefined) throw new Errors.INVALID_PARAM('variable', `$${name} (used before it is defined)`);
        if (!(v instanceof AssetRef)) {
          throw new Errors.INVALID_PARAM('variable', `$${name} (holds ${valueText(v)}, not an asset reference: define it as $${name}_ref:!<public_id>!)`);
        }
        return v;
      },
      canonical: (list) => list.map(canonicalComponent).join('/'),
    };
  }
}

/** The plan's components with everything computed made concrete (a 400 naming what fails). */
export function computeComponents(components: readonly Component[], input: ComputeInput): Promise<Component[]> {
  return new Resolver(input).components(components);
}

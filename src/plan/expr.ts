/**
 * Computed values (url-api.md §8): arithmetic expressions, user variables and conditions, as
 * text → parsed form → value. Pure: no registry, no I/O. Names are looked up through an
 * environment the caller fills (src/plan/compute.ts) with only the names an expression uses.
 *
 * Grammar, tokens separated by `_` (and around the symbol operators):
 *   expr      := operand (op operand | to_i | to_f)*
 *   operand   := number | w h iw ih ar iar cw ch fc pc cp ils tags ctx md | $name
 *              | !string! | ctx:!key! | md:!key! | <int>:<int> (a ratio, conditions only)
 *   op        := add sub mul div mod pow | + - * / % ^ (percent-encoded in a URL)
 *   condition := clause ((and|or) clause)*,  clause := expr cmp expr
 *   cmp       := eq ne lt gt lte gte in nin
 * `mul div mod pow` bind tighter than `add sub`, each level left to right; `to_i`/`to_f`
 * convert everything to their left. `and` binds tighter than `or`.
 */
import { Errors } from '../errors.ts';

/**
 * An asset reference (`$name_ref:!folder:id!`, the SDKs' setAssetReference): names a stored
 * image where a public id is expected (`l_$name`, `u_$name`); it is never a number or a string.
 * `id` has `/` between folders.
 */
export class AssetRef {
  /** `fetch`: `id` is the remote URL of a `fetch` delivery's own source (`$name_current`). */
  constructor(readonly id: string, readonly type: 'upload' | 'fetch' = 'upload') {}
}

export type Value = number | string | readonly string[] | AssetRef;

/** Names whose values come from the image and the request (src/plan/compute.ts fills them). */
export const PREDEFINED: ReadonlySet<string> = new Set(['w', 'h', 'iw', 'ih', 'ar', 'iar', 'cw', 'ch', 'fc', 'pc', 'cp', 'ils', 'tags', 'ctx', 'md']);

type Operand =
  | { readonly k: 'num'; readonly v: number }
  | { readonly k: 'str'; readonly v: string }
  | { readonly k: 'name'; readonly v: string }
  | { readonly k: 'var'; readonly v: string }
  | { readonly k: 'ctx' | 'md'; readonly v: string }
  | { readonly k: 'ref'; readonly v: string }
  /** `v`: the variable being defined, for messages. */
  | { readonly k: 'current'; readonly v: string };

type Item = Operand | { readonly k: 'op'; readonly v: Op } | { readonly k: 'conv'; readonly v: 'to_i' | 'to_f' };
type Op = 'add' | 'sub' | 'mul' | 'div' | 'mod' | 'pow';

export interface Expr {
  /** The text as written (for error messages and canonical printing). */
  readonly text: string;
  readonly items: readonly Item[];
  /** Predefined names used (so that only those are computed). */
  readonly names: readonly string[];
  /** User variables used. */
  readonly vars: readonly string[];
}

export type Cmp = 'eq' | 'ne' | 'lt' | 'gt' | 'lte' | 'gte' | 'in' | 'nin';
export interface Clause { readonly left: Expr; readonly cmp: Cmp; readonly right: Expr }
/** Clauses joined by `or`, each group joined by `and`. */
export interface Condition { readonly text: string; readonly any: readonly (readonly Clause[])[]; readonly names: readonly string[] }

const OPS: Readonly<Record<string, Op>> = {
  add: 'add', sub: 'sub', mul: 'mul', div: 'div', mod: 'mod', pow: 'pow',
  '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '%': 'mod', '^': 'pow',
};
const CMPS: ReadonlySet<string> = new Set(['eq', 'ne', 'lt', 'gt', 'lte', 'gte', 'in', 'nin']);
const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)$/;
const RATIO = /^\d+(?:\.\d+)?:\d+(?:\.\d+)?$/;
const VAR_NAME = /^[a-zA-Z][a-zA-Z0-9]*$/;
const ENCODED_OP = /%(2B|2A|2F|25|5E)/gi;
const SYMBOLS = '+*/%^';

function bad(text: string, why: string): Error {
  return new Errors.INVALID_PARAM('expression', `${text} (${why})`);
}

/** Decode a `!string!` body: percent-encoding as in text layers (`%2C`, `%2F`, `%21` for `!`). */
function decodeString(text: string, body: string): string {
  try {
    return decodeURIComponent(body);
  } catch {
    throw bad(text, 'a string is not valid percent-encoding');
  }
}

/**
 * Split expression text into tokens, or undefined when it cannot be one (so that a plain value
 * such as `auto:good` or `north_east` is left to its parameter's own parser).
 */
export function tokenize(raw: string): string[] | undefined {
  const s = raw.includes('%') ? raw.replace(ENCODED_OP, (m) => decodeURIComponent(m)) : raw;
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (ch === '_') { i++; continue; }
    if (ch === '!') {
      const end = s.indexOf('!', i + 1);
      if (end < 0) return undefined;
      out.push(s.slice(i, end + 1));
      i = end + 1;
      continue;
    }
    if ((ch === 'c' || ch === 'm') && (s.startsWith('ctx:!', i) || s.startsWith('md:!', i))) {
      const start = s.indexOf('!', i);
      const end = s.indexOf('!', start + 1);
      if (end < 0) return undefined;
      out.push(s.slice(i, end + 1));
      i = end + 1;
      continue;
    }
    if (SYMBOLS.includes(ch)) { out.push(ch); i++; continue; }
    // A word: letters, digits, `.`, `$`, `:` (ratios), and `-` as a sign where no operand precedes.
    let j = i;
    if (ch === '-') j++;
    while (j < s.length && /[A-Za-z0-9.$:]/.test(s[j])) j++;
    if (j === i) {
      if (ch === '-') { out.push('-'); i++; continue; }
      return undefined;
    }
    const word = s.slice(i, j);
    if (word === '-') { out.push('-'); i = j; continue; }
    // `iw-20`: a `-` right after an operand is the operator.
    out.push(word);
    i = j;
    if (s[i] === '-' && i + 1 < s.length && s[i + 1] !== '_') { out.push('-'); i++; }
  }
  return out;
}

function operandOf(tok: string, text: string, ratios: boolean): Operand | undefined {
  if (NUMBER.test(tok)) return { k: 'num', v: Number(tok) };
  if (PREDEFINED.has(tok)) return { k: 'name', v: tok };
  if (tok[0] === '$') {
    const name = tok.slice(1);
    if (!VAR_NAME.test(name)) return undefined;
    return { k: 'var', v: name };
  }
  if (tok.length >= 2 && tok[0] === '!' && tok[tok.length - 1] === '!') return { k: 'str', v: decodeString(text, tok.slice(1, -1)) };
  if (tok.startsWith('ctx:!')) return { k: 'ctx', v: decodeString(text, tok.slice(5, -1)) };
  if (tok.startsWith('md:!')) return { k: 'md', v: decodeString(text, tok.slice(4, -1)) };
  if (ratios && RATIO.test(tok)) {
    const [a, b] = tok.split(':').map(Number);
    return { k: 'num', v: a / b };
  }
  return undefined;
}

/** Tokens → an expression, or undefined when they do not form one. */
function exprOf(tokens: readonly string[], text: string, ratios: boolean): Expr | undefined {
  if (!tokens.length) return undefined;
  const items: Item[] = [];
  const names = new Set<string>(), vars = new Set<string>();
  let wantOperand = true;
  for (const tok of tokens) {
    if (wantOperand) {
      const o = operandOf(tok, text, ratios);
      if (!o) return undefined;
      if (o.k === 'name') names.add(o.v);
      if (o.k === 'var') vars.add(o.v);
      if (o.k === 'ctx') names.add('ctx');
      if (o.k === 'md') names.add('md');
      items.push(o);
      wantOperand = false;
    } else if (tok === 'to_i' || tok === 'to_f' || tok === 'to') {
      return undefined;
    } else {
      const op = Object.hasOwn(OPS, tok) ? OPS[tok] : undefined;
      if (!op) return undefined;
      items.push({ k: 'op', v: op });
      wantOperand = true;
    }
  }
  if (wantOperand) return undefined;
  return { text, items, names: [...names], vars: [...vars] };
}

/** `to_i`/`to_f` arrive as two tokens (`to`, `i`): join them. */
function joinConversions(tokens: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === 'to' && (tokens[i + 1] === 'i' || tokens[i + 1] === 'f')) {
      out.push(`to_${tokens[i + 1]}`);
      i++;
    } else out.push(tokens[i]);
  }
  return out;
}

/** Parse with conversions: they split the token list into runs evaluated left to right. */
function exprWithConversions(tokens: string[], text: string, ratios: boolean): Expr | undefined {
  const joined = joinConversions(tokens);
  if (!joined.includes('to_i') && !joined.includes('to_f')) return exprOf(joined, text, ratios);
  const items: Item[] = [];
  const names = new Set<string>(), vars = new Set<string>();
  let run: string[] = [];
  const flush = (continuing: boolean): boolean => {
    // A run after a conversion starts with an operator applied to the converted value.
    const e = exprOf(continuing ? ['0', ...run] : run, text, ratios);
    if (!e) return false;
    items.push(...(continuing ? e.items.slice(1) : e.items));
    e.names.forEach((n) => names.add(n));
    e.vars.forEach((n) => vars.add(n));
    return true;
  };
  let continuing = false;
  for (const tok of joined) {
    if (tok === 'to_i' || tok === 'to_f') {
      if (!flush(continuing)) return undefined;
      items.push({ k: 'conv', v: tok });
      run = [];
      continuing = true;
    } else run.push(tok);
  }
  if (run.length && !flush(continuing)) return undefined;
  return { text, items, names: [...names], vars: [...vars] };
}

const SPECIAL = new Uint8Array(128);
for (const ch of '$_%+*/^!') SPECIAL[ch.charCodeAt(0)] = 1;
/** Holds a character only expressions use (`$ _ % + * / ^ !`). */
function hasSpecial(raw: string): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 128 && SPECIAL[c] === 1) return true;
  }
  return false;
}

/** Does this raw value need computing? Plain numbers never do (checked first, without a regex). */
export function isPlainNumber(raw: string): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || c === 46 || c === 45)) return false;
  }
  return raw.length > 0;
}

/**
 * The expression a parameter value holds, or undefined when it holds none (a plain number, or
 * words its parameter parses itself). Cheap for plain values: only text with `$`, `_`, `%`, an
 * operator symbol or a predefined name as a whole is tokenized.
 */
export function parseValueExpr(raw: string): Expr | undefined {
  if (isPlainNumber(raw)) return undefined;
  if (!PREDEFINED.has(raw) && !/[$_%+*/^!]/.test(raw)) return undefined;
  const tokens = tokenize(raw);
  if (!tokens) return undefined;
  const e = exprWithConversions(tokens, raw, false);
  if (!e || (e.items.length === 1 && e.items[0].k === 'num')) return undefined;
  return e;
}

/** Longest public id an asset reference may name (as a delivery URL's). */
const MAX_REF_ID = 512;

/** A variable's value (`$name_<value>`): an expression, a string, an asset reference, or a 400. */
export function parseVariableValue(name: string, raw: string): Expr {
  if (raw.startsWith('ref:')) {
    // `ref:!docs:sale!` (folders written with `:`, as the SDKs' setAssetReference writes them).
    const m = /^ref:!([^!]+)!$/.exec(raw);
    const id = m ? decodeString(raw, m[1]).split(':').join('/') : '';
    if (!id || id.length > MAX_REF_ID || id.split('/').some((p) => !p || p === '.' || p === '..') || /[\0\\]/.test(id)) {
      throw new Errors.INVALID_PARAM('variable', `$${name}_${raw} (an asset reference is ref:!<public_id>!, folders written with :)`);
    }
    return { text: raw, items: [{ k: 'ref', v: id }], names: [], vars: [] };
  }
  // The asset being delivered (Cloudinary's `$img_current`), known once the source is.
  if (raw === 'current') return { text: raw, items: [{ k: 'current', v: name }], names: [], vars: [] };
  const tokens = tokenize(raw);
  const e = tokens && exprWithConversions(tokens, raw, false);
  if (!e) throw new Errors.INVALID_PARAM('variable', `$${name}_${raw}`);
  return e;
}

/** `$name_value` → name and value text. */
export function splitVariable(raw: string): { name: string; value: string } {
  const i = raw.indexOf('_');
  const name = i < 0 ? raw : raw.slice(0, i);
  if (!VAR_NAME.test(name)) throw new Errors.INVALID_PARAM('variable', `$${raw} (a name is letters and digits, starting with a letter)`);
  if (i < 0 || i === raw.length - 1) throw new Errors.INVALID_PARAM('variable', `$${raw} (no value)`);
  return { name, value: raw.slice(i + 1) };
}

/** `if_<condition>` text (after `if_`) → a condition. */
export function parseCondition(raw: string): Condition {
  const tokens = tokenize(raw);
  if (!tokens) throw new Errors.INVALID_PARAM('condition', raw);
  const any: Clause[][] = [];
  let all: Clause[] = [];
  let run: string[] = [];
  const names = new Set<string>();
  const endClause = () => {
    const at = run.findIndex((t) => CMPS.has(t));
    if (at <= 0 || at === run.length - 1) throw new Errors.INVALID_PARAM('condition', `${raw} (a condition is <value>_<eq|ne|lt|gt|lte|gte|in|nin>_<value>)`);
    const left = exprWithConversions(run.slice(0, at), run.slice(0, at).join('_'), true);
    const right = exprWithConversions(run.slice(at + 1), run.slice(at + 1).join('_'), true);
    if (!left || !right) throw new Errors.INVALID_PARAM('condition', raw);
    left.names.forEach((n) => names.add(n));
    right.names.forEach((n) => names.add(n));
    all.push({ left, cmp: run[at] as Cmp, right });
    run = [];
  };
  for (const tok of tokens) {
    if (tok === 'and') endClause();
    else if (tok === 'or') { endClause(); any.push(all); all = []; } else run.push(tok);
  }
  endClause();
  any.push(all);
  return { text: raw, any, names: [...names] };
}

/** What evaluation reads: predefined names (only those the expression lists) and variables. */
export interface Env {
  name(n: string): Value;
  variable(n: string): Value | undefined;
  context(key: string): string;
  metadata(key: string): string;
  /** The asset being delivered, for `$name_current` (`name` for messages; absent: a 400 unsupported). */
  current?(name: string): AssetRef;
}

function num(v: Value, text: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && NUMBER.test(v)) return Number(v);
  throw bad(text, `${Array.isArray(v) ? 'a list' : `"${v}"`} is not a number`);
}

function apply(op: Op, a: number, b: number, text: string): number {
  let r: number;
  switch (op) {
    case 'add': r = a + b; break;
    case 'sub': r = a - b; break;
    case 'mul': r = a * b; break;
    case 'div': if (b === 0) throw bad(text, 'division by zero'); r = a / b; break;
    case 'mod': if (b === 0) throw bad(text, 'division by zero'); r = a % b; break;
    case 'pow': r = a ** b; break;
  }
  if (!Number.isFinite(r)) throw bad(text, 'the result is not a finite number');
  return r;
}

function reduce(vals: Value[], ops: Op[], text: string): Value {
  if (!ops.length) return vals[0];
  // mul div mod pow first, left to right; then add sub.
  const lo: number[] = [num(vals[0], text)];
  const loOps: Op[] = [];
  for (let i = 0; i < ops.length; i++) {
    const b = num(vals[i + 1], text);
    if (ops[i] === 'add' || ops[i] === 'sub') { lo.push(b); loOps.push(ops[i]); } else lo[lo.length - 1] = apply(ops[i], lo[lo.length - 1], b, text);
  }
  let acc = lo[0];
  for (let i = 0; i < loOps.length; i++) acc = apply(loOps[i], acc, lo[i + 1], text);
  return acc;
}

function operandValue(o: Operand, env: Env, text: string, refs: boolean): Value {
  switch (o.k) {
    case 'ref': return new AssetRef(o.v);
    case 'current':
      if (!env.current) throw new Errors.UNSUPPORTED(`$${o.v}_current`, 'the current asset is not known here');
      return env.current(o.v);
    case 'num': return o.v;
    case 'str': return o.v;
    case 'name': return env.name(o.v);
    case 'ctx': return env.context(o.v);
    case 'md': return env.metadata(o.v);
    case 'var': {
      const v = env.variable(o.v);
      if (v === undefined) throw bad(text, `variable $${o.v} is used before it is defined`);
      if (v instanceof AssetRef && !refs) throw refUsedAsValue(o.v, v);
      return v;
    }
  }
}

/** The 400 of an asset-reference variable read where a value is expected. */
export function refUsedAsValue(name: string, ref: AssetRef): Error {
  return new Errors.INVALID_PARAM('variable', `$${name} (holds an asset reference to ${ref.id}, not a value: use it where a public id is expected, l_$${name} or u_$${name})`);
}

/**
 * The value of `e`. `refs`: an expression that is one variable (or one `ref:!…!`) may yield an
 * asset reference (a variable defined from another); anywhere else reading one is a 400.
 */
export function evaluate(e: Expr, env: Env, refs = false): Value {
  const lone = refs && e.items.length === 1;
  const vals: Value[] = [];
  const ops: Op[] = [];
  for (const it of e.items) {
    if (it.k === 'op') ops.push(it.v);
    else if (it.k === 'conv') {
      const v = reduce(vals, ops, e.text);
      let c: number;
      if (typeof v === 'number') c = v;
      else if (typeof v === 'string' && NUMBER.test(v.trim())) c = Number(v.trim());
      else throw bad(e.text, `${Array.isArray(v) ? 'a list' : `"${v}"`} cannot be converted to a number`);
      vals.length = 0; ops.length = 0;
      vals.push(it.v === 'to_i' ? Math.trunc(c) : c);
    } else vals.push(operandValue(it, env, e.text, lone));
  }
  return reduce(vals, ops, e.text);
}

function list(v: Value): readonly string[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'number') return [String(v)];
  const s = v as string;
  return s === '' ? [] : s.split(':');
}

function compare(c: Clause, env: Env): boolean {
  const a = evaluate(c.left, env), b = evaluate(c.right, env);
  if (c.cmp === 'in' || c.cmp === 'nin') {
    const have = list(b);
    const inside = list(a).every((x) => have.includes(x));
    return c.cmp === 'in' ? inside : !inside;
  }
  if (typeof a === 'number' && typeof b === 'number') {
    switch (c.cmp) {
      case 'eq': return a === b;
      case 'ne': return a !== b;
      case 'lt': return a < b;
      case 'gt': return a > b;
      case 'lte': return a <= b;
      case 'gte': return a >= b;
    }
  }
  const sa = Array.isArray(a) ? a.join(':') : String(a), sb = Array.isArray(b) ? b.join(':') : String(b);
  if (c.cmp === 'eq') return sa === sb;
  if (c.cmp === 'ne') return sa !== sb;
  // Ordering a string: numbers written as strings compare as numbers, else it is a 400.
  const na = num(a, c.left.text), nb = num(b, c.right.text);
  switch (c.cmp) {
    case 'lt': return na < nb;
    case 'gt': return na > nb;
    case 'lte': return na <= nb;
    default: return na >= nb;
  }
}

export function test(cond: Condition, env: Env): boolean {
  // Every clause is evaluated (a bad clause is a 400 whatever the others say).
  const results = cond.any.map((all) => all.map((c) => compare(c, env)));
  return results.some((all) => all.every(Boolean));
}

/** A computed value's text as a parameter reads it. */
export function valueText(v: Value): string {
  if (typeof v === 'number') return String(v);
  if (v instanceof AssetRef) return `ref:!${v.id.split('/').join(':')}!`;
  if (Array.isArray(v)) return v.join(':');
  return v as string;
}

/** Every user variable an expression list reads. */
export function variablesOf(exprs: readonly Expr[]): string[] {
  return [...new Set(exprs.flatMap((e) => e.vars))];
}

/**
 * A parameter value that is computed: its raw text, split into literal text and expressions.
 * The plan parser stores it in place of the parsed value; src/plan/compute.ts evaluates the
 * expressions and hands the joined text to the parameter's own parser.
 */
export class Computed {
  constructor(readonly raw: string, readonly parts: readonly (string | Expr)[]) {}
}

/** The computed form of `raw` for a parameter that `computes` in `mode`, or undefined when nothing in it is computed. */
export function computedOf(raw: string, mode: 'value' | 'parts' | 'words'): Computed | undefined {
  if (mode === 'words') {
    // `bo_5px_solid_$colour`: a `_`-separated word that is a variable is replaced by its value.
    if (raw.indexOf('$') < 0) return undefined;
    const parts: (string | Expr)[] = [];
    raw.split('_').forEach((w, i) => {
      if (i > 0) parts.push('_');
      const e = w[0] === '$' ? parseValueExpr(w) : undefined;
      parts.push(e ?? w);
    });
    return parts.some((p) => typeof p !== 'string') ? new Computed(raw, parts) : undefined;
  }
  // Fast path (plan parse speed): no expression character, and no part that is a name alone.
  if (!hasSpecial(raw)) {
    if (mode === 'value' || raw.indexOf(':') < 0) {
      if (!PREDEFINED.has(raw)) return undefined;
    } else if (!raw.split(':').some((p) => PREDEFINED.has(p))) return undefined;
  }
  if (isPlainNumber(raw)) return undefined;
  if (mode === 'value') {
    const e = parseValueExpr(raw);
    return e ? new Computed(raw, [e]) : undefined;
  }
  const pieces = raw.split(':');
  let any = false;
  const parts: (string | Expr)[] = [];
  pieces.forEach((p, i) => {
    if (i > 0) parts.push(':');
    const e = parseValueExpr(p);
    if (e) any = true;
    parts.push(e ?? p);
  });
  return any ? new Computed(raw, parts) : undefined;
}

/**
 * 3D colour look-up tables for `l_lut:<public_id>.cube|.3dl` (Cloudinary: "apply a LUT file to
 * the image"). Both formats are text:
 *   - `.cube` (Adobe/Resolve): `LUT_3D_SIZE N`, optional `TITLE`, `DOMAIN_MIN`/`DOMAIN_MAX`,
 *     then N³ lines `r g b` (floats, 0-1 over the domain), red varying fastest;
 *   - `.3dl` (Autodesk/Lustre): an optional `Mesh <in bits> <out bits>` line, a line of the N
 *     input positions (e.g. `0 64 … 1023`), then N³ lines `r g b` of integers at the output bit
 *     depth (from `Mesh`, else the smallest of 10, 12, 14, 16 bits that holds the largest value),
 *     blue varying fastest.
 * `#` starts a comment. The table is held to 2-65 points a side (65³ entries, 3.3 MB as floats).
 * A file that does not parse is a 400 naming the layer. The base's RGB is mapped by trilinear
 * interpolation between the 8 table points around it; alpha is kept.
 */
import { Errors } from '../errors.ts';
import type { Source } from '../origin/types.ts';

export const MAX_LUT_SIZE = 65;

export interface Lut {
  /** Points per side. */
  readonly size: number;
  /** size³ RGB triples in [0, 1], index ((b·size + g)·size + r)·3. */
  readonly table: Float32Array;
  readonly domainMin: readonly [number, number, number];
  readonly domainMax: readonly [number, number, number];
}

function bad(name: string, why: string): Error {
  return new Errors.INVALID_PARAM('overlay', `${name.replace(/^l_/, '')} (${why})`);
}

function numbers(line: string, name: string, n?: number): number[] {
  const parts = line.split(/\s+/);
  if (n !== undefined && parts.length !== n) throw bad(name, `expected ${n} numbers in "${line.slice(0, 40)}"`);
  return parts.map((p) => {
    const v = Number(p);
    if (!Number.isFinite(v) || p === '') throw bad(name, `not a number: "${p.slice(0, 20)}"`);
    return v;
  });
}

/** Content lines: trimmed, comments and blank lines dropped. */
function lines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n|\r/)) {
    const hash = raw.indexOf('#');
    const l = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (l) out.push(l);
  }
  return out;
}

function checkSize(size: number, name: string): void {
  if (!Number.isInteger(size) || size < 2 || size > MAX_LUT_SIZE) throw bad(name, `LUT size ${size} is outside 2-${MAX_LUT_SIZE}`);
}

/** A data row: three numbers (the common case, read without splitting). */
const ROW = /^(\S+)\s+(\S+)\s+(\S+)$/;

export function parseCube(text: string, name: string): Lut {
  let size = 0;
  let domainMin: [number, number, number] = [0, 0, 0];
  let domainMax: [number, number, number] = [1, 1, 1];
  let table: Float32Array | undefined;
  let n = 0;
  for (const l of lines(text)) {
    const c = l.charCodeAt(0);
    const isData = (c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46;
    if (!isData) {
      const [kw, ...rest] = l.split(/\s+/);
      const arg = rest.join(' ');
      if (kw === 'LUT_3D_SIZE') {
        size = numbers(arg, name, 1)[0];
        checkSize(size, name);
        table = new Float32Array(size * size * size * 3);
      } else if (kw === 'LUT_1D_SIZE') throw bad(name, '1D LUTs are not supported, only 3D');
      else if (kw === 'DOMAIN_MIN') domainMin = numbers(arg, name, 3) as [number, number, number];
      else if (kw === 'DOMAIN_MAX') domainMax = numbers(arg, name, 3) as [number, number, number];
      else if (kw === 'TITLE' || kw === 'LUT_3D_INPUT_RANGE' || kw === 'LUT_1D_INPUT_RANGE') continue;
      else throw bad(name, `unknown .cube keyword ${kw.slice(0, 30)}`);
      continue;
    }
    if (!table) throw bad(name, 'data before LUT_3D_SIZE');
    if (n >= size * size * size) throw bad(name, `more than ${size}³ entries`);
    const m = ROW.exec(l);
    const [r, g, b] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [NaN, NaN, NaN];
    if (!(Number.isFinite(r) && Number.isFinite(g) && Number.isFinite(b))) numbers(l, name, 3);
    table[n * 3] = r; table[n * 3 + 1] = g; table[n * 3 + 2] = b;
    n++;
  }
  if (!table) throw bad(name, 'no LUT_3D_SIZE: not a .cube file');
  if (n !== size * size * size) throw bad(name, `${n} entries, a ${size}-point LUT has ${size * size * size}`);
  for (let i = 0; i < 3; i++) if (!(domainMax[i] > domainMin[i])) throw bad(name, 'DOMAIN_MAX must be above DOMAIN_MIN');
  return { size, table, domainMin, domainMax };
}

export function parse3dl(text: string, name: string): Lut {
  let outMax: number | undefined;
  const rows: number[][] = [];
  let inputs: number[] | undefined;
  let floats = false;
  for (const l of lines(text)) {
    if (/^3DMESH$/i.test(l)) continue;
    const mesh = /^Mesh\s+(\d+)\s+(\d+)$/i.exec(l);
    if (mesh) {
      const bits = Number(mesh[2]);
      if (bits < 1 || bits > 16) throw bad(name, `output depth ${bits} bits`);
      outMax = 2 ** bits - 1;
      continue;
    }
    if (/^[A-Za-z]/.test(l)) throw bad(name, `unknown .3dl line "${l.slice(0, 30)}"`);
    if (l.includes('.')) floats = true;
    const v = numbers(l, name);
    if (v.length > 3 && !inputs && !rows.length) { inputs = v; continue; }
    if (v.length !== 3) throw bad(name, `expected 3 numbers in "${l.slice(0, 40)}"`);
    rows.push(v);
    if (rows.length > MAX_LUT_SIZE ** 3) throw bad(name, `more than ${MAX_LUT_SIZE}³ entries`);
  }
  // A 3-point table's input line has 3 numbers, like a row: one row more than a cube tells it.
  const isCube = (n: number) => Math.round(Math.cbrt(n)) ** 3 === n;
  if (!inputs && rows.length > 1 && !isCube(rows.length) && isCube(rows.length - 1)) inputs = rows.shift();
  const size = inputs ? inputs.length : Math.round(Math.cbrt(rows.length));
  checkSize(size, name);
  if (rows.length !== size * size * size) throw bad(name, `${rows.length} entries, a ${size}-point LUT has ${size * size * size}`);
  let max = 0;
  for (const r of rows) for (const v of r) if (v > max) max = v;
  const scale = outMax ?? (floats && max <= 1 ? 1 : [1023, 4095, 16383, 65535].find((m) => max <= m));
  if (scale === undefined) throw bad(name, `value ${max} above 16 bits`);
  const table = new Float32Array(size * size * size * 3);
  // .3dl lists blue fastest: row (r·N + g)·N + b goes to the .cube-order index (b·N + g)·N + r.
  let i = 0;
  for (let r = 0; r < size; r++) for (let g = 0; g < size; g++) for (let b = 0; b < size; b++, i++) {
    const o = ((b * size + g) * size + r) * 3;
    const row = rows[i];
    table[o] = row[0] / scale; table[o + 1] = row[1] / scale; table[o + 2] = row[2] / scale;
  }
  return { size, table, domainMin: [0, 0, 0], domainMax: [1, 1, 1] };
}

/** Parsed LUTs by source identity (a LUT is usually applied to many images). */
const memo = new Map<string, Lut>();
const MEMO_ENTRIES = 8;

/** The LUT in a stored file (parsed once per file version). */
export function lutFrom(src: Source, ext: 'cube' | '3dl', name: string): Lut {
  const key = `${ext}\n${src.identity}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const text = src.buffer.toString('latin1');
  if (text.includes('\0')) throw bad(name, 'a binary file, not a text LUT');
  const lut = ext === 'cube' ? parseCube(text, name) : parse3dl(text, name);
  if (memo.size >= MEMO_ENTRIES) memo.delete(memo.keys().next().value!);
  memo.set(key, lut);
  return lut;
}

/** Pixels mapped between two yields to the event loop (about 5-10 ms of work). */
const SLICE_PIXELS = 1 << 16;

/**
 * Map interleaved 8-bit pixels (RGB or RGBA; alpha kept) through the LUT, trilinear. The work
 * runs on the main thread in slices, yielding between them so that other requests are served
 * meanwhile (about 100 ns a pixel); `check` runs between slices (the request's deadline).
 */
export async function applyLutRaw(data: Buffer, channels: number, lut: Lut, check?: () => void): Promise<Buffer> {
  const out = Buffer.from(data);
  const axes = axisTables(lut);
  const step = SLICE_PIXELS * channels;
  for (let from = 0; from < data.length; from += step) {
    if (from > 0) {
      await new Promise<void>((r) => setImmediate(r));
      check?.();
    }
    mapSlice(data, out, channels, lut, axes, from, Math.min(data.length, from + step));
  }
  return out;
}

type Axes = { idx: Int32Array[]; frac: Float32Array[] };

/** Per channel and 8-bit value: the lower table index and the fraction towards the next. */
function axisTables(lut: Lut): Axes {
  const last = lut.size - 1;
  const idx = [new Int32Array(256), new Int32Array(256), new Int32Array(256)];
  const frac = [new Float32Array(256), new Float32Array(256), new Float32Array(256)];
  for (let c = 0; c < 3; c++) {
    const lo = lut.domainMin[c], span = lut.domainMax[c] - lo;
    for (let v = 0; v < 256; v++) {
      const x = Math.min(last, Math.max(0, ((v / 255 - lo) / span) * last));
      const i0 = Math.min(last - 1, Math.floor(x));
      idx[c][v] = i0;
      frac[c][v] = x - i0;
    }
  }
  return { idx, frac };
}

function mapSlice(data: Buffer, out: Buffer, channels: number, lut: Lut, { idx, frac }: Axes, from: number, to: number): void {
  const { size, table } = lut;
  const sG = size * 3, sB = size * size * 3;
  const [ir, ig, ib] = idx, [fr, fg, fb] = frac;
  const T = table;
  for (let p = from; p < to; p += channels) {
    const r = data[p], g = data[p + 1], b = data[p + 2];
    const dr = fr[r], dg = fg[g], db = fb[b];
    const er = 1 - dr, eg = 1 - dg, eb = 1 - db;
    // The 8 corner weights once per pixel, then 8 multiply-adds per channel.
    const w000 = er * eg * eb, w100 = dr * eg * eb, w010 = er * dg * eb, w110 = dr * dg * eb;
    const w001 = er * eg * db, w101 = dr * eg * db, w011 = er * dg * db, w111 = dr * dg * db;
    const o0 = ir[r] * 3 + ig[g] * sG + ib[b] * sB, o1 = o0 + sG, o2 = o0 + sB, o3 = o2 + sG;
    for (let c = 0; c < 3; c++) {
      const v = w000 * T[o0 + c] + w100 * T[o0 + 3 + c] + w010 * T[o1 + c] + w110 * T[o1 + 3 + c]
        + w001 * T[o2 + c] + w101 * T[o2 + 3 + c] + w011 * T[o3 + c] + w111 * T[o3 + 3 + c];
      out[p + c] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
    }
  }
}

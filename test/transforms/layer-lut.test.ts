/**
 * `l_lut:<public_id>.cube|.3dl` through the real route (src/render/lut.ts): LUT files written
 * into a scratch storage, applied to real and generated images; the delivered pixels are
 * compared with what the table says (identity, inversion, a channel swap, a non-linear curve
 * interpolated between its points), alpha and grey inputs, a changed LUT file, and the 400s.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { injectRaw, startServer, waitFor, type RawImage } from '../helpers/harness.ts';
import { repoRoot } from '../helpers/core-fixtures.ts';

const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-lut-'));
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
const put = (name: string, body: string | Buffer) => fs.writeFile(path.join(storage, name), body);

/** A .cube of `size` points from f(r, g, b) → [r, g, b] (inputs 0-1), red fastest. */
function cube(size: number, f: (r: number, g: number, b: number) => number[], header = ''): string {
  const rows = [`# test LUT`, `TITLE "t"`, `LUT_3D_SIZE ${size}`, header];
  for (let b = 0; b < size; b++) for (let g = 0; g < size; g++) for (let r = 0; r < size; r++) {
    rows.push(f(r / (size - 1), g / (size - 1), b / (size - 1)).map((v) => v.toFixed(6)).join(' '));
  }
  return rows.join('\n') + '\n';
}

/** A .3dl of `size` points at 12 bits from f, blue fastest, with the input line. */
function threeDl(size: number, f: (r: number, g: number, b: number) => number[], withInputs = true, max = 4095): string {
  const rows = withInputs ? [Array.from({ length: size }, (_, i) => Math.round((i * 1023) / (size - 1))).join(' ')] : [];
  for (let r = 0; r < size; r++) for (let g = 0; g < size; g++) for (let b = 0; b < size; b++) {
    rows.push(f(r / (size - 1), g / (size - 1), b / (size - 1)).map((v) => Math.round(v * max)).join(' '));
  }
  return rows.join('\n') + '\n';
}

await fs.copyFile(path.join(repoRoot, 'images/coffee.png'), path.join(storage, 'coffee.png'));
await fs.copyFile(path.join(repoRoot, 'images/logo-alpha.png'), path.join(storage, 'logo.png'));
// A grey ramp 0..255 (one channel).
const ramp = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
await put('ramp.png', await sharp(ramp, { raw: { width: 256, height: 1, channels: 1 } }).png().toBuffer());
await put('identity.cube', cube(2, (r, g, b) => [r, g, b]));
await put('invert.cube', cube(2, (r, g, b) => [1 - r, 1 - g, 1 - b]));
// 3 points: 0 → 0, 0.5 → 0.75, 1 → 1 on each channel (a brightening curve)
const curve = (v: number) => (v === 0.5 ? 0.75 : v);
await put('curve.cube', cube(3, (r, g, b) => [curve(r), curve(g), curve(b)]));
await put('swap.3dl', threeDl(17, (r, g, b) => [b, g, r]));
await put('plain.3dl', threeDl(2, (r, g, b) => [r, g, b], false, 1023));
// 3 points with their input line (3 numbers, like a row)
await put('three.3dl', threeDl(3, (r, g, b) => [b, g, r]));
await fs.mkdir(path.join(storage, 'looks'));
await put('looks/warm.cube', cube(2, (r, g, b) => [r * 0.8, g, b * 0.5]));
await put('big.cube', 'LUT_3D_SIZE 70\n');
await put('oned.cube', 'LUT_1D_SIZE 4\n0 0 0\n');
await put('short.cube', 'LUT_3D_SIZE 2\n0 0 0\n1 1 1\n');
await put('words.cube', 'LUT_3D_SIZE 2\n' + 'zero zero zero\n'.repeat(8));
await put('changing.cube', cube(2, (r, g, b) => [r, g, b]));

const { app } = await startServer(t, { listen: false, config: { storageDir: storage } });

type Raw = RawImage;
const raw = (url: string): Promise<Raw> => injectRaw(app, `/image/upload/${url}`);

/** Largest difference between out and f(input) over every pixel. */
function worst(input: Raw, out: Raw, f: (p: number[]) => number[]): number {
  let max = 0;
  for (let i = 0; i < input.width * input.height; i++) {
    const p = [...input.data.subarray(i * input.channels, (i + 1) * input.channels)];
    const q = out.data.subarray(i * out.channels, (i + 1) * out.channels);
    const e = f(p);
    for (let c = 0; c < e.length; c++) max = Math.max(max, Math.abs(q[c] - e[c]));
  }
  return max;
}

t.test('.cube: identity, inversion, a curve interpolated between its points', async (t) => {
  const base = await raw('w_120/coffee.png');
  t.equal(worst(base, await raw('w_120/l_lut:identity.cube/coffee.png'), (p) => p.slice(0, 3)), 0, 'identity LUT: same pixels');
  t.ok(worst(base, await raw('w_120/l_lut:invert.cube/coffee.png'), (p) => p.slice(0, 3).map((v) => 255 - v)) <= 1, 'inverting LUT: 255 − v');
  const grey = await raw('ramp.png');
  const curved = await raw('l_lut:curve.cube/ramp.png');
  t.equal(curved.channels, 3, 'grey input is mapped as RGB');
  const expected = (v: number) => {
    const x = (v / 255) * 2;
    return Math.round((x <= 1 ? x * 0.75 : 0.75 + (x - 1) * 0.25) * 255);
  };
  t.ok(worst(grey, curved, (p) => [expected(p[0]), expected(p[0]), expected(p[0])]) <= 1, 'trilinear between 0, 0.75 and 1');
  t.ok(curved.data[128 * 3] > 180, `mid-grey brightened to ${curved.data[128 * 3]}`);
  t.equal(worst(base, await raw('w_120/l_lut:looks:warm.cube/coffee.png'), (p) => [p[0] * 0.8, p[1], p[2] * 0.5].map(Math.round)) <= 1, true, 'a LUT in a folder');
});

t.test('.3dl: 12-bit with its input line, 10-bit without; blue varies fastest', async (t) => {
  const base = await raw('w_120/coffee.png');
  t.ok(worst(base, await raw('w_120/l_lut:swap.3dl/coffee.png'), (p) => [p[2], p[1], p[0]]) <= 1, 'red and blue swapped');
  t.ok(worst(base, await raw('w_120/l_lut:plain.3dl/coffee.png'), (p) => p.slice(0, 3)) <= 1, 'identity');
  t.ok(worst(base, await raw('w_120/l_lut:three.3dl/coffee.png'), (p) => [p[2], p[1], p[0]]) <= 1, '3 points and an input line');
  // Later components act on the graded image.
  const small = await raw('l_lut:swap.3dl/w_60/coffee.png');
  t.equal(small.width, 60);
});

t.test('alpha is kept', async (t) => {
  const base = await raw('logo.png');
  const out = await raw('l_lut:invert.cube/logo.png');
  t.equal(out.channels, 4);
  let alphaDiff = 0;
  for (let i = 3; i < base.data.length; i += 4) alphaDiff = Math.max(alphaDiff, Math.abs(base.data[i] - out.data[i]));
  t.equal(alphaDiff, 0, 'alpha untouched');
});

t.test('a changed LUT file changes the result (its identity is in the result key)', async (t) => {
  const before = await raw('w_40/l_lut:changing.cube/coffee.png');
  await put('changing.cube', cube(2, (r, g, b) => [1 - r, 1 - g, 1 - b]));
  // The storage watcher sees the write (an inotify event): until then the old file is current.
  let after = before;
  await waitFor(async () => !(after = await raw('w_40/l_lut:changing.cube/coffee.png')).data.equals(before.data), 'the new LUT file');
  t.ok(worst(before, after, (p) => p.slice(0, 3).map((v) => 255 - v)) <= 1, 'the new (inverting) LUT applies');
});

t.test('refusals name the LUT', async (t) => {
  const table: [string, string][] = [
    ['l_lut:nope.cube', 'Invalid overlay in transformation: lut:nope.cube (Resource not found - nope)'],
    ['l_lut:big.cube', 'Invalid overlay in transformation: lut:big.cube (LUT size 70 is outside 2-65)'],
    ['l_lut:oned.cube', 'Invalid overlay in transformation: lut:oned.cube (1D LUTs are not supported, only 3D)'],
    ['l_lut:short.cube', 'Invalid overlay in transformation: lut:short.cube (2 entries, a 2-point LUT has 8)'],
    ['l_lut:words.cube', 'Invalid overlay in transformation: lut:words.cube (unknown .cube keyword zero)'],
    ['l_lut:coffee.3dl', 'Invalid overlay in transformation: lut:coffee.3dl (a binary file, not a text LUT)'],
    ['l_lut:identity.png', 'Invalid overlay in transformation: lut:identity.png (a LUT file is <public_id>.cube or .3dl)'],
    ['l_lut:identity.cube,w_10', 'Invalid overlay in transformation: lut (a LUT layer takes no transformations: w_10)'],
  ];
  for (const [tx, msg] of table) {
    const res = await app.inject({ url: `/image/upload/${tx}/coffee.png` });
    t.equal(res.statusCode, 400, tx);
    t.equal(res.headers['x-cld-error'], msg, tx);
  }
});

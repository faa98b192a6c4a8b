/**
 * Effects that change the image's outline or size: shadow, outline, distort, shear, and the
 * gradient fade of its edges. The ones that grow the canvas say by how much in `bounds`, from
 * the plan alone, so the output limits hold before any pixel is made (plan-bounds.ts). They
 * redraw the canvas frame by frame (animations included).
 *
 * | effect | args (default) | other keys of the component |
 * |---|---|---|
 * | shadow | strength 0-100 (40): opacity strength %, blur sigma 2+strength/20 | co_ (black), x_, y_ offset (8, 8) |
 * | outline | [outer\|inner\|fill\|outer_fill\|inner_fill (outer)][:width 1-100 (5)][:blur 0-2000 (0) → sigma blur/50] | co_ (black) |
 * | distort | x1:y1:x2:y2:x3:y3:x4:y4 (new corners, clockwise from top-left, px) or arc:degrees (-360..360, not 0) | |
 * | shear | x-degrees:y-degrees (-89..89 each) | |
 * | gradient_fade | [symmetric\|symmetric_pad][:strength 0-100 (20)] | x_, y_: fade length from the left/top (negative: right/bottom), px or fraction (default y_0.5) |
 */
import { Errors } from '../../src/errors.ts';
import { translate, type Affine } from '../../src/render/affine.ts';
import { parseNumberIn, resolveOffset, type Rgba } from '../args.ts';
import type { Component, PlanDims } from '../types.ts';
import { intArg, type EffectArg, type EffectFamily } from './types.ts';
import { IN_PLACE, colourOf, redraw, viaSharp, type Raw } from './raw-frames.ts';

const BLACK: Rgba = { r: 0, g: 0, b: 0, alpha: 1 };
/** A distorted or sheared canvas stays within this many pixels of the source's corners. */
const MAX_COORD = 100_000;

/** Resize the plan's dims, keeping frames and exactness. */
function sized(d: PlanDims, width: number, height: number): PlanDims {
  return { ...d, width: Math.max(1, Math.round(width)), height: Math.max(1, Math.round(height)) };
}

/** The effects below draw RGBA frames. */
const RGBA = { rgb: true, alpha: true } as const;

/** A one-channel mask blurred by sharp (sigma ≥ 0.3). */
async function blurMask(mask: Buffer, width: number, height: number, sigma: number): Promise<Buffer> {
  // sharp writes one-band raw input back as sRGB unless told to keep the band
  return (await viaSharp({ data: mask, width, height, channels: 1 }, (img) => img.blur(Math.max(0.3, sigma)).extractChannel(0))).data;
}

/** The alpha channel of RGBA pixels placed at (pad, pad) in a zero mask `pad` larger on each side. */
function paddedAlpha(raw: Raw, pad: number): { mask: Buffer; width: number; height: number } {
  const width = raw.width + 2 * pad, height = raw.height + 2 * pad;
  const mask = Buffer.alloc(width * height);
  for (let y = 0; y < raw.height; y++) {
    const row = (y + pad) * width + pad, src = y * raw.width * 4;
    for (let x = 0; x < raw.width; x++) mask[row + x] = raw.data[src + x * 4 + 3];
  }
  return { mask, width, height };
}

/** A W×H RGBA layer of one colour whose alpha is `mask` (0-255) times the colour's alpha. */
function colourLayer(mask: Buffer, colour: Rgba, opacity = 1): Buffer {
  const out = Buffer.alloc(mask.length * 4);
  const k = colour.alpha * opacity;
  for (let i = 0, p = 0; i < mask.length; i++, p += 4) {
    out[p] = colour.r; out[p + 1] = colour.g; out[p + 2] = colour.b;
    out[p + 3] = Math.round(mask[i] * k);
  }
  return out;
}

/** `layers` composited in order over a W×H base (RGBA), as raw RGBA. */
async function stack(base: Raw, layers: { raw: Raw; left: number; top: number }[]): Promise<Raw> {
  return viaSharp(base, (img) => img.composite(layers.map((l) => ({
    input: l.raw.data, raw: { width: l.raw.width, height: l.raw.height, channels: l.raw.channels }, left: l.left, top: l.top,
  }))));
}

// ---- shadow ---------------------------------------------------------------------------

interface ShadowPlan { dx: number; dy: number; sigma: number; margin: number; W: number; H: number; left: number; top: number }

function shadowPlan(w: number, h: number, strength: number, component: Component): ShadowPlan {
  const dx = component.x ? resolveOffset(component.x, w) : 8;
  const dy = component.y ? resolveOffset(component.y, h) : 8;
  const sigma = 2 + strength / 20;
  const margin = Math.ceil(3 * sigma);
  const x0 = Math.min(0, dx - margin), y0 = Math.min(0, dy - margin);
  const x1 = Math.max(w, dx + w + margin), y1 = Math.max(h, dy + h + margin);
  return { dx, dy, sigma, margin, W: x1 - x0, H: y1 - y0, left: -x0, top: -y0 };
}

// ---- outline --------------------------------------------------------------------------

const OUTLINE_MODES = ['outer', 'inner', 'fill', 'outer_fill', 'inner_fill'] as const;
type OutlineMode = (typeof OUTLINE_MODES)[number];
const grows = (mode: OutlineMode) => mode !== 'inner' && mode !== 'inner_fill';
const outlineSigma = (blur: number) => blur / 50;
function outlinePad(mode: OutlineMode, width: number, blur: number): number {
  return grows(mode) ? width + Math.ceil(3 * outlineSigma(blur)) : 0;
}

const FAR = 1e20;

/** 1-D squared distance transform of `f` (Felzenszwalb & Huttenlocher), into `d`. */
function edt1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0; z[0] = -FAR; z[1] = FAR;
  for (let q = 1; q < n; q++) {
    let s = ((f[q] + q * q) - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    while (s <= z[k]) {
      k--;
      s = ((f[q] + q * q) - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    }
    k++;
    v[k] = q; z[k] = s; z[k + 1] = FAR;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    d[q] = (q - v[k]) ** 2 + f[v[k]];
  }
}

/** Euclidean distance of every pixel to the nearest pixel where `target(i)` holds. */
function distanceTo(width: number, height: number, target: (i: number) => boolean): Float32Array {
  // 4 bytes a pixel: distances need no more precision, and large canvases stay affordable
  const grid = new Float32Array(width * height);
  for (let i = 0; i < grid.length; i++) grid[i] = target(i) ? 0 : FAR;
  const n = Math.max(width, height);
  const f = new Float64Array(n), d = new Float64Array(n), v = new Int32Array(n), z = new Float64Array(n + 1);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) f[y] = grid[y * width + x];
    edt1d(f, height, d, v, z);
    for (let y = 0; y < height; y++) grid[y * width + x] = d[y];
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) f[x] = grid[row + x];
    edt1d(f, width, d, v, z);
    for (let x = 0; x < width; x++) grid[row + x] = Math.sqrt(d[x]);
  }
  return grid;
}

// ---- distort --------------------------------------------------------------------------

type Quad = readonly [number, number, number, number, number, number, number, number];
type Mat3 = [number, number, number, number, number, number, number, number, number];

/** The homography taking the w×h rectangle's corners (clockwise from top-left) to `q`. */
function homography(w: number, h: number, q: Quad): Mat3 | undefined {
  const src = [[0, 0], [w, 0], [w, h], [0, h]];
  const A: number[][] = [];
  const B: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = src[i], X = q[2 * i], Y = q[2 * i + 1];
    A.push([x, y, 1, 0, 0, 0, -x * X, -y * X]); B.push(X);
    A.push([0, 0, 0, x, y, 1, -x * Y, -y * Y]); B.push(Y);
  }
  // Gaussian elimination with partial pivoting
  for (let col = 0; col < 8; col++) {
    let piv = col;
    for (let r = col + 1; r < 8; r++) if (Math.abs(A[r][col]) > Math.abs(A[piv][col])) piv = r;
    if (Math.abs(A[piv][col]) < 1e-9) return undefined;
    [A[col], A[piv]] = [A[piv], A[col]]; [B[col], B[piv]] = [B[piv], B[col]];
    for (let r = 0; r < 8; r++) {
      if (r === col) continue;
      const f = A[r][col] / A[col][col];
      if (f === 0) continue;
      for (let k = col; k < 8; k++) A[r][k] -= f * A[col][k];
      B[r] -= f * B[col];
    }
  }
  const s = B.map((b, i) => b / A[i][i]);
  return [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], 1];
}

function invert3(m: Mat3): Mat3 | undefined {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-12) return undefined;
  return [A / det, -(b * i - c * h) / det, (b * f - c * e) / det, B / det, (a * i - c * g) / det, -(a * f - c * d) / det, C / det, -(a * h - b * g) / det, (a * e - b * d) / det];
}

/** A quad whose corners keep their clockwise order and make a convex shape (a drawable warp). */
function convexClockwise(q: Quad): boolean {
  let sign = 0;
  for (let i = 0; i < 4; i++) {
    const ax = q[2 * i], ay = q[2 * i + 1], bx = q[(2 * i + 2) % 8], by = q[(2 * i + 3) % 8], cx = q[(2 * i + 4) % 8], cy = q[(2 * i + 5) % 8];
    const cross = (bx - ax) * (cy - by) - (by - ay) * (cx - bx);
    if (Math.abs(cross) < 1e-9) return false;
    const s = Math.sign(cross);
    if (sign && s !== sign) return false;
    sign = s;
  }
  return sign > 0; // clockwise on screen (y down)
}

interface Warp {
  /** Output size and the output position of the source's (0,0) box. */
  W: number; H: number; x0: number; y0: number;
  /** Output pixel centre (absolute coordinates) → source coordinates, or undefined outside. */
  back(X: number, Y: number): [number, number] | undefined;
}

function bbox(points: [number, number][]): { x0: number; y0: number; W: number; H: number } {
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = Math.floor(Math.min(...xs)), y0 = Math.floor(Math.min(...ys));
  return { x0, y0, W: Math.max(1, Math.ceil(Math.max(...xs)) - x0), H: Math.max(1, Math.ceil(Math.max(...ys)) - y0) };
}

function perspectiveWarp(w: number, h: number, q: Quad, raw: string): Warp {
  const H = homography(w, h, q);
  const inv = H && invert3(H);
  if (!inv || !convexClockwise(q)) throw new Errors.INVALID_PARAM('effect', `${raw} (the corners must make a convex shape, clockwise from top-left)`);
  const b = bbox([[q[0], q[1]], [q[2], q[3]], [q[4], q[5]], [q[6], q[7]]]);
  return {
    ...b,
    back(X, Y) {
      const z = inv[6] * X + inv[7] * Y + inv[8];
      if (z <= 0) return undefined;
      return [(inv[0] * X + inv[1] * Y + inv[2]) / z, (inv[3] * X + inv[4] * Y + inv[5]) / z];
    },
  };
}

/**
 * ImageMagick's arc: the image's middle line becomes an arc of `deg` degrees (positive: bent up
 * like a frown, the circle's centre below; negative: a smile), rows becoming concentric arcs.
 */
function arcWarp(w: number, h: number, deg: number): Warp {
  const theta = (Math.abs(deg) * Math.PI) / 180;
  const inner = Math.max(0, w / theta - h / 2), outer = inner + h;
  const up = deg > 0 ? 1 : -1; // frown: the top row is the outer arc
  const phi0 = -theta / 2;
  const fwd = (u: number, v: number): [number, number] => {
    const phi = phi0 + (u / w) * theta;
    const r = up > 0 ? outer - v : inner + v;
    return [r * Math.sin(phi), -up * r * Math.cos(phi)];
  };
  const pts: [number, number][] = [];
  const N = 64;
  for (let i = 0; i <= N; i++) {
    pts.push(fwd((w * i) / N, 0), fwd((w * i) / N, h));
    pts.push(fwd(0, (h * i) / N), fwd(w, (h * i) / N));
  }
  const b = bbox(pts);
  return {
    ...b,
    back(X, Y) {
      const yUp = -up * Y;
      const r = Math.hypot(X, yUp);
      const phi = Math.atan2(X, yUp);
      const u = ((phi - phi0) / theta) * w;
      const v = up > 0 ? outer - r : r - inner;
      return [u, v];
    },
  };
}

function warpOf(w: number, h: number, args: readonly EffectArg[], raw: string): Warp {
  if (args[0] === 'arc') return arcWarp(w, h, args[1] as number);
  // Corners in pixels of the canvas as it is.
  return perspectiveWarp(w, h, args as unknown as Quad, raw);
}

/** Bilinear sample of RGBA `src` at (u, v) (pixel centres at +0.5); transparent outside. */
function sample(src: Raw, u: number, v: number, out: Buffer, o: number): void {
  const x = u - 0.5, y = v - 0.5;
  const x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0;
  let r = 0, g = 0, b = 0, a = 0;
  for (let j = 0; j < 2; j++) {
    const yy = y0 + j;
    if (yy < 0 || yy >= src.height) continue;
    const wy = j ? fy : 1 - fy;
    for (let i = 0; i < 2; i++) {
      const xx = x0 + i;
      if (xx < 0 || xx >= src.width) continue;
      const wgt = (i ? fx : 1 - fx) * wy;
      const p = (yy * src.width + xx) * 4;
      const al = src.data[p + 3] * wgt;
      r += src.data[p] * al; g += src.data[p + 1] * al; b += src.data[p + 2] * al; a += al;
    }
  }
  if (a <= 0) return;
  out[o] = Math.round(r / a); out[o + 1] = Math.round(g / a); out[o + 2] = Math.round(b / a); out[o + 3] = Math.round(a);
}

// ---- shear ----------------------------------------------------------------------------

/** x shear then y shear: (x, y) → (x + tx·y, ty·x + (1 + tx·ty)·y). */
function shearMatrix(xDeg: number, yDeg: number): [number, number, number, number] {
  const tx = Math.tan((xDeg * Math.PI) / 180), ty = Math.tan((yDeg * Math.PI) / 180);
  return [1, tx, ty, 1 + tx * ty];
}

function shearBox(w: number, h: number, m: [number, number, number, number]) {
  return bbox([[0, 0], [w, 0], [0, h], [w, h]].map(([x, y]) => [m[0] * x + m[1] * y, m[2] * x + m[3] * y] as [number, number]));
}

// ---- gradient fade --------------------------------------------------------------------

const FADE_MODES = ['symmetric', 'symmetric_pad'] as const;

export const SHAPE_EFFECTS: EffectFamily = {
  shadow: {
    doc: "A blurred shadow of the image's shape, offset by x, y, coloured by co_.",
    examples: [{ args: '', sample: 'logo' }, { transformation: 'co_rgb:2f6fde,e_shadow:80,x_12,y_-6', sample: 'logo' }],
    parse(args, raw) {
      if (args.length > 1) throw new Errors.INVALID_PARAM('effect', raw);
      return [args.length ? intArg(args[0], raw, 0, 100) : 40];
    },
    claims: ['x', 'y'],
    reads: ['colour'],
    bounds(d, v, _bc, component) {
      const p = shadowPlan(d.width, d.height, v.args[0] as number, component);
      return sized(d, p.W, p.H);
    },
    async apply(c, v, _ctx, component) {
      await redraw(c, RGBA, async (img) => {
        const p = shadowPlan(img.width, img.height, v.args[0] as number, component);
        const { mask, width, height } = paddedAlpha(img, p.margin);
        const soft = await blurMask(mask, width, height, p.sigma);
        const shadow: Raw = { data: colourLayer(soft, colourOf(component, BLACK), (v.args[0] as number) / 100), width, height, channels: 4 };
        const base: Raw = { data: Buffer.alloc(p.W * p.H * 4), width: p.W, height: p.H, channels: 4 };
        const out = await stack(base, [
          { raw: shadow, left: p.left + p.dx - p.margin, top: p.top + p.dy - p.margin },
          { raw: img, left: p.left, top: p.top },
        ]);
        return { raw: out, step: translate(-p.left, -p.top) };
      });
    },
  },

  outline: {
    doc: "An outline of the image's shape (outer, inner, fill), coloured by co_.",
    examples: [{ args: '', sample: 'logo' }, { transformation: 'co_red,e_outline:inner:4', sample: 'logo' }, { transformation: 'co_rgb:2f6fde,e_outline:outer:8:200', sample: 'logo' }, { transformation: 'co_orange,e_outline:outer_fill:6', sample: 'logo' }],
    parse(args, raw) {
      let i = 0;
      let mode: OutlineMode = 'outer';
      if (args.length && !/^\d+$/.test(args[0])) {
        if (!(OUTLINE_MODES as readonly string[]).includes(args[0])) throw new Errors.INVALID_PARAM('effect', `${raw} (mode is one of ${OUTLINE_MODES.join(', ')})`);
        mode = args[0] as OutlineMode;
        i = 1;
      }
      if (args.length - i > 2) throw new Errors.INVALID_PARAM('effect', raw);
      const width = args[i] ? intArg(args[i], raw, 1, 100) : 5;
      const blur = args[i + 1] ? intArg(args[i + 1], raw, 0, 2000) : 0;
      return [mode, width, blur];
    },
    reads: ['colour'],
    bounds(d, v) {
      const pad = outlinePad(v.args[0] as OutlineMode, v.args[1] as number, v.args[2] as number);
      return sized(d, d.width + 2 * pad, d.height + 2 * pad);
    },
    async apply(c, v, _ctx, component) {
      const mode = v.args[0] as OutlineMode, width = v.args[1] as number, blur = v.args[2] as number;
      await redraw(c, RGBA, async (img) => {
        const pad = outlinePad(mode, width, blur);
        const { mask: alpha, width: W, height: H } = paddedAlpha(img, pad);
        const shape = Buffer.alloc(alpha.length);
        for (let i = 0; i < alpha.length; i++) shape[i] = alpha[i] >= 128 ? 255 : 0;
        const under = Buffer.alloc(alpha.length), over = Buffer.alloc(alpha.length);
        if (grows(mode)) {
          const toShape = distanceTo(W, H, (i) => shape[i] !== 0);
          for (let i = 0; i < alpha.length; i++) if (!shape[i] && toShape[i] <= width) under[i] = 255;
        }
        if (mode !== 'outer' && mode !== 'outer_fill') {
          const toOutside = distanceTo(W, H, (i) => shape[i] === 0);
          for (let y = 0; y < H; y++) {
            for (let x = 0; x < W; x++) {
              const i = y * W + x;
              // the image's edge counts as outside, so an opaque rectangle gets its inner frame
              const edge = Math.min(x + 1, y + 1, W - x, H - y);
              if (shape[i] && Math.min(toOutside[i], edge) <= width) over[i] = 255;
            }
          }
        }
        if (mode.endsWith('fill')) for (let i = 0; i < alpha.length; i++) if (shape[i]) under[i] = 255;
        const colour = colourOf(component, BLACK);
        const soft = async (m: Buffer) => (blur > 0 ? blurMask(m, W, H, outlineSigma(blur)) : m);
        const base: Raw = { data: colourLayer(await soft(under), colour), width: W, height: H, channels: 4 };
        const out = await stack(base, [
          { raw: img, left: pad, top: pad },
          { raw: { data: colourLayer(await soft(over), colour), width: W, height: H, channels: 4 }, left: 0, top: 0 },
        ]);
        return { raw: out, step: translate(-pad, -pad) };
      });
    },
  },

  distort: {
    doc: 'The corners moved to four points (a perspective), or the image bent along an arc.',
    examples: ['10:5:150:0:160:107:0:100', 'arc:120'],
    parse(args, raw) {
      if (args[0] === 'arc') {
        if (args.length !== 2) throw new Errors.INVALID_PARAM('effect', raw);
        let deg: number;
        try {
          deg = parseNumberIn('effect', args[1], -360, 360);
        } catch {
          throw new Errors.INVALID_PARAM('effect', raw);
        }
        if (deg === 0) throw new Errors.INVALID_PARAM('effect', `${raw} (an arc of 0 degrees)`);
        return ['arc', deg];
      }
      if (args.length !== 8) throw new Errors.INVALID_PARAM('effect', `${raw} (four corners x1:y1:x2:y2:x3:y3:x4:y4, or arc:<degrees>)`);
      return args.map((a) => {
        try {
          return parseNumberIn('effect', a, -MAX_COORD, MAX_COORD);
        } catch {
          throw new Errors.INVALID_PARAM('effect', raw);
        }
      });
    },
    bounds(d, v) {
      const w = warpOf(d.width, d.height, v.args, `distort:${v.args.join(':')}`);
      return sized(d, w.W, w.H);
    },
    async apply(c, v, ctx) {
      await redraw(c, RGBA, async (img) => {
        const warp = warpOf(img.width, img.height, v.args, `distort:${v.args.join(':')}`);
        const out = Buffer.alloc(warp.W * warp.H * 4);
        for (let y = 0; y < warp.H; y++) {
          if ((y & 63) === 0) ctx.deadline.check('e_distort');
          for (let x = 0; x < warp.W; x++) {
            const s = warp.back(warp.x0 + x + 0.5, warp.y0 + y + 0.5);
            if (!s || s[0] < -0.5 || s[1] < -0.5 || s[0] > img.width + 0.5 || s[1] > img.height + 0.5) continue;
            sample(img, s[0], s[1], out, (y * warp.W + x) * 4);
          }
        }
        // Not an affine map: fl_getinfo reports the bounding box (the whole source).
        const step: Affine = { a: img.width / warp.W, b: 0, c: 0, d: 0, e: img.height / warp.H, f: 0 };
        return { raw: { data: out, width: warp.W, height: warp.H, channels: 4 }, step };
      });
    },
  },

  shear: {
    doc: 'Skewed by x and y degrees.',
    examples: ['20:0', '0:-15'],
    parse(args, raw) {
      if (args.length !== 2) throw new Errors.INVALID_PARAM('effect', `${raw} (shear:<x degrees>:<y degrees>)`);
      return args.map((a) => {
        try {
          return parseNumberIn('effect', a, -89, 89);
        } catch {
          throw new Errors.INVALID_PARAM('effect', `${raw} (angles from -89 to 89)`);
        }
      });
    },
    bounds(d, v) {
      const b = shearBox(d.width, d.height, shearMatrix(v.args[0] as number, v.args[1] as number));
      return sized(d, b.W, b.H);
    },
    async apply(c, v) {
      await redraw(c, RGBA, async (img) => {
        const m = shearMatrix(v.args[0] as number, v.args[1] as number);
        const out = await viaSharp(img, (s) => s.affine([[m[0], m[1]], [m[2], m[3]]], { background: { r: 0, g: 0, b: 0, alpha: 0 }, interpolator: 'bilinear' }));
        const b = shearBox(img.width, img.height, m);
        // new (X, Y) ← old M⁻¹ (X + x0, Y + y0)
        const det = m[0] * m[3] - m[1] * m[2];
        const ia = m[3] / det, ib = -m[1] / det, id = -m[2] / det, ie = m[0] / det;
        const step: Affine = { a: ia, b: ib, c: ia * b.x0 + ib * b.y0, d: id, e: ie, f: id * b.x0 + ie * b.y0 };
        return { raw: out, step };
      });
    },
  },

  gradient_fade: {
    doc: 'The image fades to transparent (symmetric_pad: to b_) from an edge.',
    examples: ['', 'symmetric:40', { transformation: 'b_black,e_gradient_fade:symmetric_pad,x_0.3' }],
    parse(args, raw) {
      // [strength] or [mode, strength]: the one-edge fade has no mode name of its own
      let i = 0;
      if (args.length && !/^\d+$/.test(args[0])) {
        if (!(FADE_MODES as readonly string[]).includes(args[0])) throw new Errors.INVALID_PARAM('effect', `${raw} (mode is symmetric or symmetric_pad)`);
        i = 1;
      }
      if (args.length - i > 1) throw new Errors.INVALID_PARAM('effect', raw);
      const strength = args[i] ? intArg(args[i], raw, 0, 100) : 20;
      return i ? [args[0], strength] : [strength];
    },
    claims: ['x', 'y'],
    async apply(c, v, _ctx, component) {
      const mode = v.args.length === 2 ? (v.args[0] as string) : 'edge', k = (v.args[v.args.length - 1] as number) / 20;
      const pad = mode === 'symmetric_pad';
      await redraw(c, pad ? { rgb: true } : RGBA, async (img) => {
        const { width: w, height: h, channels: ch, data } = img;
        const bg = c.background ?? { r: 255, g: 255, b: 255, alpha: 1 };
        /** Fade factors along an axis of `size` px for a start point of `start` px (negative: from the far edge). */
        const along = (size: number, start: number | undefined): Float64Array => {
          const factor = new Float64Array(size).fill(1);
          if (start === undefined) return factor;
          const length = Math.min(size, Math.abs(start));
          for (let i = 0; i < length; i++) {
            const f = Math.pow((i + 0.5) / length, k);
            const near = start < 0 ? size - 1 - i : i;
            factor[near] = Math.min(factor[near], f);
            if (mode !== 'edge') factor[size - 1 - near] = Math.min(factor[size - 1 - near], f);
          }
          return factor;
        };
        // y_ fades from the top (default half the height), x_ from the left; both: both axes.
        const fx = along(w, component.x ? resolveOffset(component.x, w) : undefined);
        const fy = along(h, component.y ? resolveOffset(component.y, h) : component.x ? undefined : Math.round(h / 2));
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const f = fx[x] * fy[y];
            if (f === 1) continue;
            const p = (y * w + x) * ch;
            if (pad) {
              data[p] = Math.round(bg.r + (data[p] - bg.r) * f);
              data[p + 1] = Math.round(bg.g + (data[p + 1] - bg.g) * f);
              data[p + 2] = Math.round(bg.b + (data[p + 2] - bg.b) * f);
            } else {
              data[p + ch - 1] = Math.round(data[p + ch - 1] * f);
            }
          }
        }
        return { raw: img, step: IN_PLACE };
      });
    },
  },
};

/**
 * Maps canvas pixels back to input pixels so `fl_getinfo` can say which region of the original
 * the output shows, composed through every crop, resize, pad, flip and rotation.
 * in = [a b c; d e f] · [x y 1]
 */
export interface Affine { a: number; b: number; c: number; d: number; e: number; f: number }

export const IDENTITY: Affine = { a: 1, b: 0, c: 0, d: 0, e: 1, f: 0 };

/** (m ∘ n): first apply n (new canvas → old canvas), then m (old canvas → input). */
export function compose(m: Affine, n: Affine): Affine {
  return {
    a: m.a * n.a + m.b * n.d, b: m.a * n.b + m.b * n.e, c: m.a * n.c + m.b * n.f + m.c,
    d: m.d * n.a + m.e * n.d, e: m.d * n.b + m.e * n.e, f: m.d * n.c + m.e * n.f + m.f,
  };
}

/** New canvas pixel (x, y) came from old canvas (x + dx, y + dy). */
export const translate = (dx: number, dy: number): Affine => ({ a: 1, b: 0, c: dx, d: 0, e: 1, f: dy });
/** New canvas pixel (x, y) came from old canvas (x * sx, y * sy). */
export const scale = (sx: number, sy: number): Affine => ({ a: sx, b: 0, c: 0, d: 0, e: sy, f: 0 });

/**
 * Rotation by `deg` clockwise about the centre: new canvas (of size nw×nh) ← old canvas (ow×oh).
 * Also serves flips with the given matrix form.
 */
export function rotation(deg: number, ow: number, oh: number, nw: number, nh: number): Affine {
  const t = (-deg * Math.PI) / 180;
  const cos = Math.abs(Math.cos(t)) < 1e-12 ? 0 : Math.cos(t);
  const sin = Math.abs(Math.sin(t)) < 1e-12 ? 0 : Math.sin(t);
  // old = R · (new - newCentre) + oldCentre, R rotating counter to the image's clockwise turn
  const ncx = nw / 2, ncy = nh / 2, ocx = ow / 2, ocy = oh / 2;
  return {
    a: cos, b: -sin, c: ocx - cos * ncx + sin * ncy,
    d: sin, e: cos, f: ocy - sin * ncx - cos * ncy,
  };
}

export const flipH = (w: number): Affine => ({ a: -1, b: 0, c: w, d: 0, e: 1, f: 0 });
export const flipV = (h: number): Affine => ({ a: 1, b: 0, c: 0, d: 0, e: -1, f: h });

export interface Region { x: number; y: number; width: number; height: number }

/** Bounding box in input pixels of a canvas rectangle, clipped to the input. */
export function visibleRegion(m: Affine, cw: number, ch: number, iw: number, ih: number): Region | undefined {
  const pts = [[0, 0], [cw, 0], [0, ch], [cw, ch]].map(([x, y]) => [m.a * x + m.b * y + m.c, m.d * x + m.e * y + m.f]);
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const x0 = Math.max(0, Math.min(...xs)), x1 = Math.min(iw, Math.max(...xs));
  const y0 = Math.max(0, Math.min(...ys)), y1 = Math.min(ih, Math.max(...ys));
  if (x1 <= x0 || y1 <= y0) return undefined;
  const r = { x: Math.round(x0), y: Math.round(y0), width: Math.round(x1 - x0), height: Math.round(y1 - y0) };
  return r;
}

/**
 * `a_<deg>` | `a_auto` | `a_auto_right` | `a_auto_left` | `a_hflip` | `a_vflip` | `a_ignore`,
 * chained with `.` (Cloudinary `angle`). Degrees -360..360 clockwise; non-right angles grow the
 * canvas and fill corners with `b_` or transparent. `auto*` rotate by 90° only when the image's
 * orientation disagrees with the requested side (auto_right/auto = clockwise, auto_left =
 * counter-clockwise) — here that means when the image is wider than tall. `ignore` turns off
 * EXIF auto-orientation for the whole URL (read by the renderer).
 */
import { defineTransform } from './types.ts';
import { Errors } from '../src/errors.ts';
import { flipH, flipV, rotation } from '../src/render/affine.ts';

export type AngleOp = { kind: 'rotate'; deg: number } | { kind: 'hflip' } | { kind: 'vflip' } | { kind: 'auto'; dir: 1 | -1 } | { kind: 'ignore' };

declare module './types.ts' {
  interface PlanValues { angle: AngleOp[] }
}

export const angle = defineTransform({
  key: 'a', planKey: 'angle', name: 'angle', phase: 'orient',
  computes: 'value',
  parse(raw) {
    return raw.split('.').map((p): AngleOp => {
      if (p === 'hflip') return { kind: 'hflip' };
      if (p === 'vflip') return { kind: 'vflip' };
      if (p === 'ignore') return { kind: 'ignore' };
      if (p === 'auto' || p === 'auto_right') return { kind: 'auto', dir: 1 };
      if (p === 'auto_left') return { kind: 'auto', dir: -1 };
      if (/^-?\d+(\.\d+)?$/.test(p)) {
        const d = Number(p);
        if (d < -360 || d > 360) throw new Errors.INVALID_PARAM('angle', raw);
        return { kind: 'rotate', deg: ((d % 360) + 360) % 360 };
      }
      throw new Errors.INVALID_PARAM('angle', raw);
    });
  },
  load(ops, options) {
    if (ops.some((o) => o.kind === 'ignore')) options.autoOrient = false;
  },
  bounds(ops, d, _c, bc) {
    const max = bc.config.maxAngleOps;
    if (ops.length > max) throw new Errors.INVALID_PARAM('angle', `${ops.length} rotations and flips in one component (at most ${max}, APERTURE_MAX_ANGLE_OPS)`);
    let { width: w, height: h } = d;
    for (const o of ops) {
      if (o.kind === 'auto') {
        if (w > h) [w, h] = [h, w];
      } else if (o.kind === 'rotate' && o.deg % 180 !== 0) {
        if (o.deg % 90 === 0) [w, h] = [h, w];
        else {
          // the bounding box of the turned image (libvips rounds it the same way)
          const r = (o.deg * Math.PI) / 180, cos = Math.abs(Math.cos(r)), sin = Math.abs(Math.sin(r));
          [w, h] = [Math.ceil(w * cos + h * sin), Math.ceil(w * sin + h * cos)];
        }
      }
    }
    return { ...d, width: w, height: h };
  },
  canonical: (ops) => ops.map((o) => (o.kind === 'rotate' ? String(o.deg) : o.kind === 'auto' ? (o.dir === 1 ? 'auto_right' : 'auto_left') : o.kind)).join('.'),
  async apply(canvas, ops) {
    for (const o of ops) {
      if (o.kind === 'ignore') continue;
      if (o.kind === 'hflip') {
        const w = canvas.width;
        await canvas.op('flop', 'barrier', (img) => img.flop());
        canvas.mapThrough(flipH(w), canvas.width, canvas.height);
        continue;
      }
      if (o.kind === 'vflip') {
        const h = canvas.height;
        await canvas.op('flip', 'barrier', (img) => img.flip());
        canvas.mapThrough(flipV(h), canvas.width, canvas.height);
        continue;
      }
      let deg = o.kind === 'rotate' ? o.deg : 0;
      if (o.kind === 'auto') {
        await canvas.ensureDims();
        if (canvas.width > canvas.height) deg = o.dir === 1 ? 90 : 270;
      }
      if (deg === 0) continue;
      if (canvas.pages > 1 && deg !== 180) {
        // libvips rotates frames of a multi-page image only by 180°.
        throw new Errors.UNSUPPORTED(`a_${deg}`, 'rotating an animated image by other than 180° is not supported (take one frame with pg_1 or a still format)');
      }
      await canvas.ensureDims();
      const ow = canvas.width, oh = canvas.height;
      const bg = canvas.background ?? { r: 0, g: 0, b: 0, alpha: 0 };
      await canvas.op('rotate', 'barrier', (img) => img.rotate(deg, { background: bg }));
      if (deg % 90 === 0) {
        const swap = deg % 180 !== 0;
        const nw = swap ? oh : ow, nh = swap ? ow : oh;
        canvas.mapThrough(rotation(deg, ow, oh, nw, nh), nw, nh);
      } else {
        if (bg.alpha < 1) canvas.markAlpha();
        await canvas.materialize();
        // materialize already set the new size; compose the rotation about the centres
        const nw = canvas.width, nh = canvas.height;
        canvas.width = ow; canvas.height = oh;
        canvas.mapThrough(rotation(deg, ow, oh, nw, nh), nw, nh);
      }
    }
  },
});

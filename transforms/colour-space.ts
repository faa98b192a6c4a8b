/**
 * `cs_<space>` — the delivered colour space (Cloudinary `color_space`). Applied by the
 * `encode` hook to every encoding of the plan.
 *
 * | value | delivered |
 * |---|---|
 * | `srgb` | sRGB pixels with an sRGB ICC profile attached |
 * | `no_cmyk` | a CMYK source delivered as sRGB (also what happens without `cs_`) |
 * | `keep_cmyk` | a CMYK source stays CMYK when the output format can hold it (JPEG, TIFF); otherwise as `no_cmyk` |
 * | `cmyk` | CMYK in JPEG/TIFF output, whatever the source; sRGB in other formats |
 * | `icc:<public_id>` | pixels converted to the ICC profile stored as `<public_id>` (a `.icc`/`.icm` file, the id's own extension, or a file named just the id) and the profile attached |
 *
 * `tinysrgb` and `copy` are answered 400 unsupported. The profile file is loaded in the
 * output phase (`apply`, through the delivery's origins like an image layer), checked to be
 * an ICC profile ('acsp' signature) and written once per content to a temporary file, which
 * sharp's withIccProfile reads.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineTransform } from './types.ts';
import { Errors, isHttpError } from '../src/errors.ts';
import { holdsCmyk } from '../src/formats.ts';

export type ColourSpace = { kind: 'srgb' | 'no_cmyk' | 'keep_cmyk' | 'cmyk' } | { kind: 'icc'; publicId: string };

declare module './types.ts' {
  interface PlanValues { colourSpace: ColourSpace }
}

const ID = /^[\w\-./]+$/;

/** Profile files written so far: public id → path (content-addressed, so a stale entry stays valid). */
const profiles = new Map<string, string>();
const dir = path.join(os.tmpdir(), `aperture-icc-${process.pid}`);

function profilePath(bytes: Buffer): string {
  const file = path.join(dir, `${crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 32)}.icc`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, bytes);
  }
  return file;
}

export const colourSpace = defineTransform({
  key: 'cs', planKey: 'colourSpace', name: 'color_space', phase: 'output',
  parse(raw): ColourSpace {
    if (raw === 'srgb' || raw === 'no_cmyk' || raw === 'keep_cmyk' || raw === 'cmyk') return { kind: raw };
    if (raw.startsWith('icc:')) {
      const id = raw.slice(4).split(':').join('/');
      if (!id || !ID.test(id) || id.split('/').some((p) => p === '..' || p === '.' || p === '')) throw new Errors.INVALID_PARAM('color_space', raw);
      return { kind: 'icc', publicId: id };
    }
    if (raw === 'tinysrgb' || raw === 'copy') throw new Errors.UNSUPPORTED(`cs_${raw}`, 'this colour space option is not supported');
    throw new Errors.INVALID_PARAM('color_space', raw);
  },
  canonical: (v) => (v.kind === 'icc' ? `icc:${v.publicId.split('/').join(':')}` : v.kind),
  async apply(_canvas, v, _component, ctx) {
    if (v.kind !== 'icc') return;
    if (!ctx.loadLayer) throw new Errors.UNSUPPORTED(`cs_icc:${v.publicId}`, 'ICC profiles from storage are not available in this context');
    const m = /^(.*)\.(icc|icm)$/i.exec(v.publicId);
    const tries: [string, string | undefined][] = m ? [[m[1], m[2].toLowerCase()], [v.publicId, undefined]] : [[v.publicId, 'icc'], [v.publicId, 'icm'], [v.publicId, undefined]];
    let bytes: Buffer | undefined;
    for (const [id, ext] of tries) {
      try {
        bytes = (await ctx.loadLayer(id, ext)).buffer;
        break;
      } catch (e) {
        if (!(isHttpError(e) && (e.statusCode === 404 || e.statusCode === 415))) throw e;
      }
    }
    if (!bytes) throw new Errors.INVALID_PARAM('color_space', `icc:${v.publicId} (Resource not found - ${v.publicId})`);
    if (bytes.length < 132 || bytes.toString('latin1', 36, 40) !== 'acsp') {
      throw new Errors.INVALID_PARAM('color_space', `icc:${v.publicId} (not an ICC profile)`);
    }
    profiles.set(v.publicId, profilePath(bytes));
  },
  encode(v, img, info) {
    switch (v.kind) {
      case 'srgb': return img.toColourspace('srgb').withIccProfile('srgb');
      case 'no_cmyk': return img.toColourspace('srgb');
      case 'keep_cmyk': return info.sourceSpace === 'cmyk' && holdsCmyk(info.format) ? img.toColourspace('cmyk') : img.toColourspace('srgb');
      case 'cmyk': return holdsCmyk(info.format) ? img.toColourspace('cmyk') : img.toColourspace('srgb');
      case 'icc': {
        const file = profiles.get(v.publicId);
        // apply() ran before any encoding of this plan and recorded the profile: without it the
        // renderer is wrong, not the request (a 500, logged).
        if (!file) throw new Error(`cs_icc:${v.publicId}: encoded before its profile was loaded`);
        return img.withIccProfile(file);
      }
    }
  },
});

/**
 * The still-image scope of Cloudinary's documentation corpus (issue #14): the transformation
 * strings that apply to still images and need no hosted AI model or third-party add-on. Out of
 * scope: video/audio keys and layers, 3D formats, generative AI and background removal,
 * object-detection gravities, OCR, add-ons (imagga, viesus, jpegmini, the `adv_` family) and
 * `fn_wasm`. `outOfScope(line)` names why a line is out (empty: in scope).
 *
 * `populateStorage` puts every public id the lines name (layers, underlays, default images,
 * LUTs, ICC profiles) into a storage folder, so a line is measured on what it does, not on a
 * missing file, and `NAMED` defines the named transformations (`t_…`) the corpus uses.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { splitToken } from '../../src/plan/parse.ts';

/** The 80 COCO classes under Cloudinary's names (object-detection gravities). */
const COCO = new Set(('person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant stop_sign ' +
  'parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack umbrella handbag tie suitcase ' +
  'frisbee skis snowboard sports_ball kite baseball_bat baseball_glove skateboard surfboard tennis_racket bottle ' +
  'wine_glass cup fork knife spoon bowl banana apple sandwich orange broccoli carrot hot_dog pizza donut cake chair ' +
  'couch potted_plant bed dining_table toilet tv laptop mouse remote keyboard cell_phone microwave oven toaster sink ' +
  'refrigerator book clock vase scissors teddy_bear hair_drier toothbrush').split(' '));
/** g_auto modes that are not object classes. */
const AUTO_MODES = new Set(['subject', 'classic', 'face', 'faces', 'body', 'none']);
const VIDEO_KEYS = new Set(['du', 'so', 'eo', 'vc', 'ac', 'br', 'fps', 'sp', 'af', 'ki', 'vs']);

const RULES: readonly [string, (tok: string) => boolean][] = [
  ['video or audio key', (t) => VIDEO_KEYS.has(t.split('_')[0])],
  ['video layer', (t) => /^[lu]_(video|subtitles|audio):/.test(t)],
  ['video format', (t) => /^f_(mp4|webm|mp3|ogv|m3u8|mpd|mov|flv|wav|aac|ogg|m4a|mkv|3gp)$/.test(t)],
  ['video effect or flag', (t) => /^e_(volume|fade|reverse|boomerang|accelerate|deshake|preview|transition|zoompan|loop|progressbar)\b/.test(t)
    || /^fl_(splice|streaming_attachment)\b/.test(t)],
  ['3D', (t) => /^f_(glb|gltf|usdz|fbx|obj)$/.test(t) || t === 'fl_draco'],
  ['generative AI or background removal', (t) => /^e_(gen_|generative|upscale|enhance|style_transfer|background_removal|bgremoval|remove_background|extract|dropshadow|theme|swap_image)/.test(t)],
  ['add-on or OCR', (t) => /^g_(ocr_text|adv_)/.test(t) || /^e_(viesus|adv_|redeye)/.test(t) || t.startsWith('c_imagga') || t.includes('jpegmini')],
  ['fn_wasm', (t) => t.startsWith('fn_')],
  ['object gravity', (t) => {
    if (!t.startsWith('g_')) return false;
    const parts = t.slice(2).split(':').map((p) => p.replace(/_(avoid|\d+)$/, ''));
    return parts.some((p) => COCO.has(p)) || (parts[0] === 'auto' && parts.length > 1 && !AUTO_MODES.has(parts[1]));
  }],
];

/** Why `line` is outside the still-image scope (empty when it is inside). */
export function outOfScope(line: string): string[] {
  const why = new Set<string>();
  for (const tok of line.split(/[/,]/)) for (const [name, test] of RULES) if (test(tok)) why.add(name);
  if (/\bvideo\b|\.mp4\b/.test(line)) why.add('video asset');
  return [...why];
}

/** The named transformations the corpus refers to, defined the way their names describe them. */
export const NAMED: Readonly<Record<string, string>> = {
  passport_photo: 'c_thumb,g_face,w_200,h_250',
  image_ratings: 'l_golden_star,w_40,g_north_east,x_10,y_10',
  sample_named_transform: 'c_fill,w_200,h_200',
  sample_named_transform2: 'e_sepia',
  jpg_with_quality_30: 'f_jpg,q_30',
  fit_100x150: 'c_fit,w_100,h_150',
  vignette_angle: 'e_vignette/a_10',
  my_named_transformation: 'c_scale,w_300/e_grayscale',
  my_named_mul_trans: 'c_scale,w_200',
  'highqual-if-tagged': 'q_90',
  demo_combined: 'c_crop,w_300,h_300,g_center/e_sepia',
  crop_400x400: 'c_crop,w_400,h_400',
};

/** Public ids a line names as layer, underlay, default image, LUT or ICC profile. */
export function namedAssets(line: string): { images: string[]; luts: string[]; iccs: string[] } {
  const images = new Set<string>(), luts = new Set<string>(), iccs = new Set<string>();
  for (const tok of line.split(/[/,]/)) {
    let m = /^l_lut:(.+)$/.exec(tok);
    if (m) { luts.add(m[1].replace(/:/g, '/')); continue; }
    m = /^cs_icc:(.+)$/.exec(tok);
    if (m) { iccs.add(m[1].replace(/:/g, '/')); continue; }
    m = /^[lu]_(?!text:|fetch:|video:|subtitles:|audio:|\$)([^:][^,]*)$/.exec(tok) ?? /^d_(.+)$/.exec(tok);
    if (m) images.add(m[1].replace(/:/g, '/'));
  }
  return { images: [...images], luts: [...luts], iccs: [...iccs] };
}

/** An identity 3D LUT of `n`³ entries, in the .cube or .3dl text format. */
function identityLut(kind: 'cube' | '3dl', n = 9): string {
  const rows: string[] = [];
  if (kind === 'cube') {
    rows.push(`LUT_3D_SIZE ${n}`);
    for (let b = 0; b < n; b++) for (let g = 0; g < n; g++) for (let r = 0; r < n; r++) rows.push([r, g, b].map((v) => (v / (n - 1)).toFixed(4)).join(' '));
  } else {
    const max = 4095;
    rows.push(Array.from({ length: n }, (_, i) => Math.round((i * 1023) / (n - 1))).join(' '));
    for (let r = 0; r < n; r++) for (let g = 0; g < n; g++) for (let b = 0; b < n; b++) rows.push([r, g, b].map((v) => Math.round((v * max) / (n - 1))).join(' '));
  }
  return rows.join('\n') + '\n';
}

/**
 * Writes every asset the lines name into `dir`: images as copies of `sample` (PNG with alpha,
 * so cutters and masks have a shape), LUTs as identity LUTs, ICC profiles as libvips' sRGB.
 * An id that already has an extension keeps it; others are stored as `<id>.png`.
 */
export async function populateStorage(dir: string, lines: readonly string[], sample: Buffer): Promise<number> {
  const want = { images: new Set<string>(), luts: new Set<string>(), iccs: new Set<string>() };
  for (const l of lines) {
    const a = namedAssets(l);
    a.images.forEach((x) => want.images.add(x)); a.luts.forEach((x) => want.luts.add(x)); a.iccs.forEach((x) => want.iccs.add(x));
  }
  const png = await sharp(sample).ensureAlpha().png().toBuffer();
  const icc = (await sharp(sample).withIccProfile('srgb').jpeg().toBuffer({ resolveWithObject: true }).then(({ data }) => sharp(data).metadata())).icc;
  let n = 0;
  const write = async (rel: string, body: Buffer | string) => {
    const file = path.join(dir, rel);
    if (!file.startsWith(dir + path.sep)) return;
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, body);
    n++;
  };
  for (const id of want.images) await write(/\.[a-z0-9]{3,4}$/i.test(id) ? id : `${id}.png`, png);
  for (const id of want.luts) await write(id, identityLut(id.endsWith('.3dl') ? '3dl' : 'cube'));
  for (const id of want.iccs) if (icc) await write(/\.ic[cm]$/.test(id) ? id : `${id}.icc`, icc);
  return n;
}

/** Group an X-Cld-Error into a reason: the key (and effect name) and the kind of refusal. */
export function reasonOf(message: string): string {
  let m = /^Unsupported transformation ([^:]+?)(?::.*)?: ([^:]+)$/.exec(message);
  if (m) {
    const [key, value] = splitToken(m[1]);
    const name = key === 'e' || key === 'fl' || key === 'c' || key === 'g' ? `${key}_${value.split(':')[0]}` : key;
    return `unsupported ${name} (${m[2]})`;
  }
  m = /^Unknown transformation (.+)$/.exec(message);
  if (m) return `unknown key ${splitToken(m[1])[0]}`;
  m = /^Invalid (.+?) in transformation: /.exec(message);
  if (m) return `invalid ${m[1]}`;
  return message.replace(/\d+/g, 'N').slice(0, 80);
}

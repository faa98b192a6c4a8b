/**
 * Colour effects (issue 14 item 2) through the real server: small generated images in a
 * scratch storage and a downscaled photo from images/, delivered as PNG, and what the
 * delivered pixels show. Also each effect's canonical round trip and its 400s.
 */
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { startServer } from '../helpers/harness.ts';
import { parsePlan } from '../../src/plan/parse.ts';
import { ART_FILTERS } from '../../transforms/effects/art.ts';
import { SIMULATIONS } from '../../transforms/effects/colorblind.ts';

const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'aperture-colour-'));
const put = async (name: string, img: Sharp) => fs.writeFile(path.join(storage, name), await img.png().toBuffer());
const solid = (width: number, height: number, r: number, g: number, b: number, alpha = 1) =>
  sharp({ create: { width, height, channels: 4, background: { r, g, b, alpha } } });

// 80×40: left half red, right half green
await put('split.png', sharp({ create: { width: 80, height: 40, channels: 3, background: { r: 200, g: 30, b: 30 } } })
  .composite([{ input: await solid(40, 40, 30, 160, 30).png().toBuffer(), left: 40, top: 0 }]));
// 60×60 white with a blue 20×20 square in the middle
await put('halo.png', sharp({ create: { width: 60, height: 60, channels: 3, background: '#ffffff' } })
  .composite([{ input: await solid(20, 20, 20, 40, 220).png().toBuffer(), left: 20, top: 20 }]));
// 40×20: left half 30 % opaque, right half 80 % opaque
await put('semi.png', solid(40, 20, 0, 0, 0, 0)
  .composite([{ input: await solid(20, 20, 200, 0, 0, 0.3).png().toBuffer(), left: 0, top: 0 }, { input: await solid(20, 20, 200, 0, 0, 0.8).png().toBuffer(), left: 20, top: 0 }]));
// 100×20 mid-grey
await put('grey.png', solid(100, 20, 128, 128, 128).removeAlpha());
// 100×20: 70 % red-brown (a saucer on wood), 30 % light grey (the cup)
await put('warm.png', sharp({ create: { width: 100, height: 20, channels: 3, background: { r: 170, g: 70, b: 40 } } })
  .composite([{ input: await solid(30, 20, 200, 198, 196).png().toBuffer(), left: 70, top: 0 }]));
// the photo, 160 px wide, as is, dark, with a blue cast and flat (low contrast)
const photo = await sharp(path.resolve('images/rocket.jpg')).resize(160).removeAlpha().toBuffer();
await put('photo.png', sharp(photo));
await put('dark.png', sharp(photo).linear(0.35, 0));
await put('cast.png', sharp(photo).linear([0.8, 0.9, 1.2], [0, 0, 30]));
await put('flat.png', sharp(photo).linear(0.3, 90));

// Registered first, so it runs after the server's own teardown (tap runs them last-in first-out).
t.teardown(() => fs.rm(storage, { recursive: true, force: true }));
const { app } = await startServer(t, { listen: false, config: { storageDir: storage } });

interface Px { width: number; height: number; channels: number; data: Buffer; at(x: number, y: number): number[] }

async function get(url: string): Promise<Px> {
  const res = await app.inject({ url: `/image/upload/${url}` });
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.headers['x-cld-error']}`);
  const { data, info } = await sharp(res.rawPayload).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x + 1) * info.channels)];
  return { width: info.width, height: info.height, channels: info.channels, data, at };
}

/** Per-channel means over a region (default all), r g b [a]. */
function mean(px: Px, x0 = 0, y0 = 0, w = px.width, h = px.height): number[] {
  const s = new Array(px.channels).fill(0);
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) px.at(x, y).forEach((v, i) => { s[i] += v; });
  const m = s.map((v) => v / (w * h));
  return m.length < 3 ? [m[0], m[0], m[0], ...m.slice(1)] : m;
}
const lum = (m: number[]) => 0.299 * m[0] + 0.587 * m[1] + 0.114 * m[2];
/** Standard deviation of luma. */
function spread(px: Px): number {
  const vals: number[] = [];
  for (let y = 0; y < px.height; y++) for (let x = 0; x < px.width; x++) { const p = px.at(x, y); vals.push(p.length < 3 ? p[0] : lum(p)); }
  const m = vals.reduce((a, b) => a + b, 0) / vals.length;
  return Math.sqrt(vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length);
}
const dist = (a: number[], b: number[]) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

async function error(url: string): Promise<string> {
  const res = await app.inject({ url: `/image/upload/${url}` });
  return `${res.statusCode} ${res.headers['x-cld-error'] ?? ''}`;
}

const canonical = (text: string) => parsePlan(text.split('/')).canonical;

t.test('e_red / e_green / e_blue scale one channel', async (t) => {
  const base = mean(await get('photo.png'));
  for (const [name, i] of [['red', 0], ['green', 1], ['blue', 2]] as const) {
    const up = mean(await get(`e_${name}:60/photo.png`));
    const down = mean(await get(`e_${name}:-60/photo.png`));
    t.ok(up[i] > base[i] + 10, `e_${name}:60 raises the ${name} mean (${base[i].toFixed(1)} → ${up[i].toFixed(1)})`);
    t.ok(down[i] < base[i] - 10, `e_${name}:-60 lowers it (${down[i].toFixed(1)})`);
    for (const j of [0, 1, 2].filter((j) => j !== i)) t.ok(Math.abs(up[j] - base[j]) < 1.5, `other channel ${j} unchanged`);
  }
  const none = mean(await get('e_red/photo.png'));
  t.ok(dist(none, base) < 1.5, 'e_red alone (0) changes nothing');
});

t.test('e_brightness_hsb multiplies every channel; e_hue turns red; e_vibrance lifts dull colours most', async (t) => {
  const base = mean(await get('photo.png'));
  const up = mean(await get('e_brightness_hsb:50/photo.png'));
  t.ok(up[0] > base[0] * 1.3 && up[2] > base[2] * 1.3, 'brightness_hsb:50 raises all channels');
  const down = mean(await get('e_brightness_hsb:-50/photo.png'));
  t.ok(Math.abs(down[1] - base[1] * 0.5) < 3, `brightness_hsb:-50 halves green (${base[1].toFixed(1)} → ${down[1].toFixed(1)})`);
  const hue = await get('e_hue:60/split.png');
  const red = mean(hue, 0, 0, 40, 40);
  t.ok(red[0] < 150, `the red half is no longer red (${red.map((v) => v.toFixed(0))})`);

  // dull (saturation ~0.2) and vivid (~0.85) halves
  await put('vib.png', sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 150, g: 120, b: 120 } } })
    .composite([{ input: await solid(20, 20, 200, 30, 30).png().toBuffer(), left: 20, top: 0 }]));
  const sat = (m: number[]) => (Math.max(...m.slice(0, 3)) - Math.min(...m.slice(0, 3))) / Math.max(...m.slice(0, 3));
  const v0 = await get('vib.png'), v1 = await get('e_vibrance:100/vib.png');
  const dullGain = sat(mean(v1, 0, 0, 20, 20)) / sat(mean(v0, 0, 0, 20, 20));
  const vividGain = sat(mean(v1, 20, 0, 20, 20)) / sat(mean(v0, 20, 0, 20, 20));
  t.ok(dullGain > 1.3 && dullGain > vividGain, `vibrance raises dull saturation more (×${dullGain.toFixed(2)} vs ×${vividGain.toFixed(2)})`);
  t.ok(sat(mean(await get('e_vibrance:-100/vib.png'), 0, 0, 20, 20)) < sat(mean(v0, 0, 0, 20, 20)), 'negative vibrance mutes');
});

t.test('e_gamma brightens mid-tones above 0, darkens them below, 0 is neutral', async (t) => {
  const base = lum(mean(await get('grey.png')));
  const up = lum(mean(await get('e_gamma:50/grey.png')));
  const down = lum(mean(await get('e_gamma:-40/grey.png')));
  const zero = lum(mean(await get('e_gamma:0/grey.png')));
  t.ok(Math.abs(up - 255 * (128 / 255) ** 0.5) <= 1.5, `e_gamma:50 → exponent ½: ${up.toFixed(1)}`);
  t.ok(Math.abs(down - 255 * (128 / 255) ** 1.8) <= 1.5, `e_gamma:-40 → exponent 1.8: ${down.toFixed(1)}`);
  t.ok(Math.abs(zero - base) <= 0.5, 'e_gamma:0 unchanged');
});

t.test('e_colorize blends toward the component\'s co_ colour', async (t) => {
  const full = mean(await get('co_rgb:0000ff,e_colorize/photo.png'));
  t.ok(full[0] < 2 && full[1] < 2 && full[2] > 253, 'level 100 (default): all co_ colour');
  const base = mean(await get('photo.png'));
  const half = mean(await get('co_blue,e_colorize:50/photo.png'));
  t.ok(Math.abs(half[0] - base[0] / 2) < 2 && Math.abs(half[2] - (base[2] / 2 + 127.5)) < 2, `level 50: halfway (${half.map((v) => v.toFixed(0))})`);
  const black = mean(await get('e_colorize:40/photo.png'));
  t.ok(lum(black) < lum(base) * 0.65, 'without co_ the colour is black (co_\'s default)');
});

t.test('e_tint: colours left to right over the luminance, amount, positions, equalize', async (t) => {
  const two = await get('e_tint:100:red:blue/grey.png');
  const left = mean(two, 0, 0, 10, 20), right = mean(two, 90, 0, 10, 20);
  t.ok(left[0] > left[2] + 60, `left is red (${left.map((v) => v.toFixed(0))})`);
  t.ok(right[2] > right[0] + 60, `right is blue (${right.map((v) => v.toFixed(0))})`);
  const def = mean(await get('e_tint/photo.png'));
  const base = mean(await get('photo.png'));
  t.ok(def[0] - def[2] > base[0] - base[2] + 20, 'default: red at 60');
  const weak = mean(await get('e_tint:20/photo.png'));
  t.ok(weak[0] - weak[2] < def[0] - def[2], 'smaller amount, weaker tint');
  const early = await get('e_tint:100:red:0p:blue:20p/grey.png');
  t.ok(mean(early, 45, 0, 10, 20)[2] > mean(early, 45, 0, 10, 20)[0] + 60, 'blue already at 20 %: the middle is blue');
  const underscored = await get('e_tint:100:red_0p:blue_20p/grey.png');
  t.same(mean(underscored), mean(early), 'colour_Np is the same as colour:Np');
  const eq = mean(await get('e_tint:equalize:50:green/dark.png')), noEq = mean(await get('e_tint:50:green/dark.png'));
  t.ok(lum(eq) > lum(noEq) + 20, 'equalize spreads the dark picture\'s tones before tinting');
});

t.test('e_recolor: 3×3 and 4×4 matrices', async (t) => {
  const swapped = await get('e_recolor:0:0:1:0:1:0:1:0:0/split.png');
  const red = mean(swapped, 0, 0, 40, 40);
  t.ok(red[2] > 190 && red[0] < 40, `red and blue swapped (${red.map((v) => v.toFixed(0))})`);
  const alpha = await get('e_recolor:1:0:0:0:0:1:0:0:0:0:1:0:0:0:0:0.5/split.png');
  t.equal(alpha.channels, 4, 'a 4×4 matrix adds alpha');
  t.ok(Math.abs(mean(alpha)[3] - 127.5) < 2, 'and its last row halves it');
  const opaque = await get('e_recolor:0.3:0.7:0.1:0.2:0.3:0.6:0.1:0.2:0.2:0.5:0.1:0.2:0.2:0.2:0.2:0.2/photo.png');
  t.equal(opaque.channels, 4, 'the docs\' 4×4 matrix on an image without alpha');
  const jpeg = await app.inject({ url: '/image/upload/e_recolor:0.3:0.7:0.1:0.2:0.3:0.6:0.1:0.2:0.2:0.5:0.1:0.2:0.2:0.2:0.2:0.2/photo.jpg' });
  t.equal(jpeg.statusCode, 200, 'and delivered as JPEG');
  const docs = mean(await get('e_recolor:0.3:0.7:0.1:0.3:0.6:0.1:0.2:0.5:0.1/photo.png'));
  t.ok(docs[2] < docs[0], 'the docs\' matrix: blue from a smaller mix');
});

t.test('e_art: 21 filters, each a different grade', async (t) => {
  t.equal(Object.keys(ART_FILTERS).length, 21);
  const base = mean(await get('photo.png'));
  const seen: [string, number[]][] = [];
  for (const name of Object.keys(ART_FILTERS)) {
    const m = mean(await get(`e_art:${name}/photo.png`));
    t.ok(dist(m, base) > 3 || Math.abs(spread(await get(`e_art:${name}/photo.png`)) - spread(await get('photo.png'))) > 3, `${name} changes the picture`);
    for (const [other, o] of seen) if (dist(m, o) < 1) t.fail(`${name} looks like ${other}`);
    seen.push([name, m]);
  }
  const audrey = await get('e_art:audrey/split.png');
  const p = audrey.at(5, 5);
  t.ok(p.length < 3 || (p[0] === p[1] && p[1] === p[2]), 'audrey is black and white');
});

t.test('tone: fill_light, auto_color, auto_brightness, auto_contrast, improve', async (t) => {
  const dark = await get('dark.png');
  const lit = await get('e_fill_light/dark.png');
  t.ok(lum(mean(lit)) > lum(mean(dark)) * 1.5, `fill_light brightens shadows (${lum(mean(dark)).toFixed(0)} → ${lum(mean(lit)).toFixed(0)})`);
  const half = lum(mean(await get('e_fill_light:50/dark.png')));
  t.ok(half > lum(mean(dark)) && half < lum(mean(lit)), 'blend 50: between');
  const narrow = lum(mean(await get('e_fill_light:100:-100/photo.png'))), wide = lum(mean(await get('e_fill_light:100:100/photo.png')));
  t.ok(wide > narrow + 5, 'positive bias reaches further into the mid-tones');

  const cast = mean(await get('cast.png')), fixed = mean(await get('e_auto_color/cast.png'));
  t.ok(Math.abs(fixed[2] - fixed[0]) < Math.abs(cast[2] - cast[0]) / 3, `auto_color removes the blue cast (b−r ${(cast[2] - cast[0]).toFixed(0)} → ${(fixed[2] - fixed[0]).toFixed(0)})`);
  t.ok(dist(mean(await get('e_auto_color:0/cast.png')), cast) < 1.5, 'blend 0 changes nothing');
  // A scene of one dominant colour with neutral pixels: those are balanced, the colour stays
  // (grey world would have tripled blue and turned the red-brown grey).
  const warm = await get('warm.png'), balanced = await get('e_auto_color/warm.png');
  const red0 = mean(warm, 0, 0, 70, 20), red1 = mean(balanced, 0, 0, 70, 20), cup = mean(balanced, 70, 0, 30, 20);
  t.ok(red1[0] - red1[2] > 0.9 * (red0[0] - red0[2]), `auto_color keeps a dominant colour (r−b ${(red0[0] - red0[2]).toFixed(0)} → ${(red1[0] - red1[2]).toFixed(0)})`);
  t.ok(Math.abs(cup[0] - cup[2]) <= 2, `the neutral area ends neutral (r−b ${(cup[0] - cup[2]).toFixed(1)})`);

  const bright = lum(mean(await get('e_auto_brightness/dark.png')));
  t.ok(Math.abs(bright - 128) < Math.abs(lum(mean(dark)) - 128) / 2, `auto_brightness moves the mean toward mid-grey (${bright.toFixed(0)})`);
  const part = lum(mean(await get('e_auto_brightness:30/dark.png')));
  t.ok(part > lum(mean(dark)) && part < bright, 'auto_brightness:30 goes part of the way');

  const flat = spread(await get('flat.png'));
  const stretched = spread(await get('e_auto_contrast/flat.png'));
  t.ok(stretched > flat * 2, `auto_contrast stretches (σ ${flat.toFixed(1)} → ${stretched.toFixed(1)})`);
  const some = spread(await get('e_auto_contrast:40/flat.png'));
  t.ok(some > flat && some < stretched, 'auto_contrast:40 in between');

  const out = await get('e_improve/flat.png'), indoor = await get('e_improve:indoor/dark.png'), outdoor = await get('e_improve:outdoor/dark.png');
  t.ok(spread(out) > flat * 2, 'improve stretches a flat picture');
  t.ok(lum(mean(indoor)) > lum(mean(outdoor)) + 5, 'indoor brightens more than outdoor');
  t.same(mean(await get('e_improve:auto/dark.png')), mean(indoor), 'auto on a dark picture is indoor');
  const weak = spread(await get('e_improve:20/flat.png'));
  t.ok(weak > flat && weak < spread(out), 'improve:20 blends (a number alone is the blend)');
});

t.test('colour blindness: simulate and assist', async (t) => {
  const base = await get('split.png');
  const gap = dist(mean(base, 0, 0, 40, 40), mean(base, 40, 0, 40, 40));
  const sim = await get('e_simulate_colorblind/split.png');
  const simGap = dist(mean(sim, 0, 0, 40, 40), mean(sim, 40, 0, 40, 40));
  t.ok(simGap < gap / 2, `deuteranopia (default) brings red and green together (${gap.toFixed(0)} → ${simGap.toFixed(0)})`);
  const seen = new Set<string>();
  for (const mode of Object.keys(SIMULATIONS)) seen.add(mean(await get(`e_simulate_colorblind:${mode}/split.png`)).map((v) => v.toFixed(0)).join());
  t.equal(seen.size, Object.keys(SIMULATIONS).length, 'each simulation differs');
  const rod = (await get('e_simulate_colorblind:rod_monochromacy/split.png')).at(5, 5);
  t.ok(Math.abs(rod[0] - rod[1]) <= 1 && Math.abs(rod[1] - rod[2]) <= 1, 'rod monochromacy is grey');

  const striped = await get('e_assist_colorblind:60/split.png');
  const row = [...Array(16).keys()].map((x) => striped.at(x, 10)[0]);
  t.ok(Math.max(...row) - Math.min(...row) > 80, `stripes across the red half (${Math.min(...row)}-${Math.max(...row)})`);
  const weak = await get('e_assist_colorblind/split.png');
  const wrow = [...Array(16).keys()].map((x) => weak.at(x, 10)[0]);
  t.ok(Math.max(...wrow) - Math.min(...wrow) < Math.max(...row) - Math.min(...row), 'default strength 10: fainter stripes');
  const grey = await get('e_assist_colorblind:60/grey.png');
  t.same(mean(grey), mean(await get('grey.png')), 'no stripes on grey');
  const xray = await get('e_assist_colorblind:xray/split.png');
  const seenGap = (px: Px) => dist(mean(px, 0, 0, 40, 40).slice(0, 3).map((_, i, a) => a[i]), mean(px, 40, 0, 40, 40));
  const xsim = await get('e_assist_colorblind:xray/e_simulate_colorblind/split.png');
  t.ok(seenGap(xsim) > simGap * 1.5, `after xray a deuteranope tells red from green better (${simGap.toFixed(0)} → ${seenGap(xsim).toFixed(0)})`);
  t.ok(seenGap(xray) > 0, 'xray output differs between halves');
});

t.test('opacity_threshold, make_transparent, replace_color', async (t) => {
  const thr = await get('e_opacity_threshold/semi.png');
  t.equal(thr.at(5, 5)[3], 0, '30 % opaque → transparent at 50');
  t.equal(thr.at(30, 5)[3], 255, '80 % opaque → opaque');
  const high = await get('e_opacity_threshold:90/semi.png');
  t.equal(high.at(30, 5)[3], 0, 'at 90 both go');
  const noAlpha = await get('e_opacity_threshold/photo.png');
  t.same(mean(noAlpha), mean(await get('photo.png')), 'no alpha: nothing semi-transparent, unchanged');

  const byColour = await get('co_rgb:1428dc,e_make_transparent:10/halo.png');
  t.equal(byColour.at(30, 30)[3], 0, 'co_ colour: the blue square goes');
  t.equal(byColour.at(2, 2)[3], 255, 'white stays');
  const byBorder = await get('e_make_transparent/halo.png');
  t.equal(byBorder.at(2, 2)[3], 0, 'no co_: the border colour, flooded, goes');
  t.equal(byBorder.at(30, 30)[3], 255, 'the square stays');

  const rep = await get('e_replace_color:green:40:rgb:1428dc/halo.png');
  const sq = rep.at(30, 30);
  t.ok(sq[1] > sq[2] && sq[1] > sq[0], `the blue square turns green (${sq})`);
  t.same(rep.at(2, 2).slice(0, 3), [255, 255, 255], 'white untouched');
  const auto = (await get('e_replace_color:red/halo.png')).at(30, 30);
  t.ok(auto[0] > auto[2], `no from: the predominant saturated colour (blue) is replaced (${auto})`);
  const bare = (await get('e_replace_color:maroon:60:1428dc/halo.png')).at(30, 30);
  t.ok(bare[0] > bare[2], 'bare hex from colour');
  const tight = (await get('e_replace_color:red:1:rgb:ff00ff/halo.png')).at(30, 30);
  t.same(tight.slice(0, 3), [20, 40, 220], 'a from colour that is not there replaces nothing');
});

t.test('grey and transparent inputs, effects after grayscale', async (t) => {
  await put('bw.png', sharp({ create: { width: 12, height: 8, channels: 3, background: '#777777' } }).toColourspace('b-w'));
  await put('bwa.png', solid(12, 8, 90, 90, 90, 0.5).toColourspace('b-w'));
  const red = mean(await get('e_red:50/bw.png'));
  t.ok(red[0] > red[1] + 40, `a grey image gains colour channels for e_red (${red.map((v) => v.toFixed(0))})`);
  const blue = mean(await get('co_blue,e_colorize:50/bwa.png'));
  t.ok(blue[2] > blue[0] + 60 && Math.abs(blue[3] - 127.5) < 2, 'colorize on grey + alpha keeps the alpha');
  const after = mean(await get('e_grayscale/e_red:40/photo.png'));
  t.ok(after[0] > after[1] + 5, 'e_red after e_grayscale colours the grey picture');
  const hsb = mean(await get('e_brightness_hsb:50/semi.png'));
  const semi = mean(await get('semi.png'));
  t.ok(hsb[0] > semi[0] && Math.abs(hsb[3] - semi[3]) < 1, 'brightness_hsb leaves alpha alone');
});

t.test('canonical round trips', async (t) => {
  for (const s of [
    'e_red:60', 'e_green', 'e_blue:-30', 'e_brightness_hsb', 'e_hue:40', 'e_vibrance:70', 'co_red,e_colorize:35', 'co_darkviolet,e_colorize:35',
    'e_tint', 'e_tint:equalize:80:red:50p:blue:60p:yellow:40p', 'e_tint:100:red_0p:rgb:00ff00:20p', 'e_tint:30:rgb:ff0000',
    'e_recolor:0.3:0.7:0.1:0.3:0.6:0.1:0.2:0.5:0.1', 'e_art:sonnet', 'e_fill_light:70:20', 'e_auto_color:80', 'e_auto_brightness:10',
    'e_auto_contrast', 'e_improve:indoor:50', 'e_improve:50', 'e_improve:auto', 'e_assist_colorblind:xray', 'e_assist_colorblind:20',
    'e_simulate_colorblind:tritanomaly', 'e_opacity_threshold:17', 'co_white,e_make_transparent:20',
    'e_replace_color:maroon:80:2b38aa', 'e_replace_color:saddlebrown', 'e_replace_color:2F4F4F:20', 'e_replace_color:red:5:blue',
  ]) {
    const c = canonical(s);
    t.equal(canonical(c), c, `${s} → ${c}`);
  }
  t.equal(canonical('e_tint:100:red_0p:blue_20p'), canonical('e_tint:100:red:0p:blue:20p'), 'one canonical for both position spellings');
  t.equal(canonical('e_improve'), canonical('e_improve:outdoor:100'), 'defaults spelled out or not');
});

t.test('bad arguments are 400 naming the value', async (t) => {
  const cases: [string, string][] = [
    ['e_red:101', '400 Invalid effect in transformation: red:101'],
    ['e_blue:x', '400 Invalid effect in transformation: blue:x'],
    ['e_tint:50:notacolour', '400 Invalid effect in transformation: tint:50:notacolour'],
    ['e_tint:50:red:150p', '400 Invalid effect in transformation: tint:50:red:150p'],
    ['e_tint:101', '400 Invalid effect in transformation: tint:101'],
    ['e_recolor:1:2:3', '400 Invalid effect in transformation: recolor:1:2:3'],
    ['e_recolor:1:0:0:0:1:0:0:0:x', '400 Invalid effect in transformation: recolor:1:0:0:0:1:0:0:0:x'],
    ['e_art:nope', '400 Unsupported transformation e_art:nope: unknown art filter; one of ' + Object.keys(ART_FILTERS).join(', ')],
    ['e_art', '400 Invalid effect in transformation: art'],
    ['e_fill_light:101', '400 Invalid effect in transformation: fill_light:101'],
    ['e_fill_light:50:-101', '400 Invalid effect in transformation: fill_light:50:-101'],
    ['e_improve:sideways', '400 Invalid effect in transformation: improve:sideways'],
    ['e_improve:indoor:101', '400 Invalid effect in transformation: improve:indoor:101'],
    ['e_auto_brightness:200', '400 Invalid effect in transformation: auto_brightness:200'],
    ['e_simulate_colorblind:cat', '400 Invalid effect in transformation: simulate_colorblind:cat'],
    ['e_assist_colorblind:0', '400 Invalid effect in transformation: assist_colorblind:0'],
    ['e_opacity_threshold:0', '400 Invalid effect in transformation: opacity_threshold:0'],
    ['e_make_transparent:101', '400 Invalid effect in transformation: make_transparent:101'],
    ['e_replace_color', '400 Invalid effect in transformation: replace_color'],
    ['e_replace_color:red:20:nothex', '400 Invalid effect in transformation: replace_color:red:20:nothex'],
    ['e_colorize:-1', '400 Invalid effect in transformation: colorize:-1'],
    ['e_brightness_hsb:-100', '400 Invalid effect in transformation: brightness_hsb:-100'],
  ];
  for (const [url, want] of cases) t.equal(await error(`${url}/photo.png`), want, url);
});

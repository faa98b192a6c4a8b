import t from 'tap';
import {
  srcset, sizes, imageTag, clientHintsMeta, clientHintsHeaders, breakpointsUrl, knownDimensions, url,
} from '@aperture/sdk';
import { signer } from '@aperture/sdk/sign';
import { cld } from '../helpers/cloudinary.ts';

const H = 'img.example.com';

t.test('srcset: single component gets the width (one resize on the server)', async (t) => {
  t.equal(
    srcset('sample.jpg', { host: H, widths: [640, 320], crop: 'fill', aspect_ratio: '16:9', gravity: 'auto' }),
    'https://img.example.com/image/upload/ar_16:9,c_fill,g_auto,w_320/sample.jpg 320w, '
    + 'https://img.example.com/image/upload/ar_16:9,c_fill,g_auto,w_640/sample.jpg 640w');
  t.equal(
    srcset('p.jpg', { host: H, widths: [200], width: 400, height: 300, crop: 'fill' }),
    'https://img.example.com/image/upload/c_fill,h_150,w_200/p.jpg 200w', 'height scaled with the width');
  t.equal(srcset('a/b.png', { widths: [100, 100], quality: 'auto' }), '/image/upload/q_auto,w_100/v1/a/b.png 100w', 'deduplicated');
});

t.test('srcset: chained options get a trailing c_scale component, as the official SDK does', async (t) => {
  const s = srcset('sample.jpg', {
    host: H, widths: [300], sign_url: true, signer: signer('s'),
    transformation: [{ crop: 'fill', width: 1000, height: 500 }, { effect: 'sepia' }],
  });
  t.match(s, /^https:\/\/img\.example\.com\/image\/upload\/s--[\w-]{8}--\/c_fill,h_500,w_1000\/e_sepia\/c_scale,w_300\/sample\.jpg 300w$/);
  // Same URL as the official SDK for the same chain.
  const theirs = cld.url('sample.jpg', {
    urlAnalytics: false, cloud_name: 'demo', private_cdn: true, secure_distribution: H, api_secret: 's', sign_url: true,
    transformation: [{ crop: 'fill', width: 1000, height: 500 }, { effect: 'sepia' }, { crop: 'scale', width: 300 }],
  });
  t.equal(s, `${theirs} 300w`);
  t.equal(srcset('x.jpg', { widths: [50], height: 100 }), '/image/upload/h_100/c_scale,w_50/x.jpg 50w', 'height only');
});

t.test('srcset: breakpoints from the server JSON, fetch type, defaults, bad widths', async (t) => {
  const json = JSON.parse('{"breakpoints":[50,480,1000]}') as { breakpoints: number[] };
  const s = srcset('https://ex.com/a.jpg', { type: 'fetch', format: 'webp', breakpoints: json });
  t.equal(s.split(', ').length, 3);
  t.equal(s.split(', ')[1], '/image/fetch/f_webp,w_480/https://ex.com/a.jpg 480w');
  t.equal(srcset('a.jpg').split(', ').map((e) => e.split(' ')[1]).join(','), '320w,640w,960w,1280w,1600w,1920w');
  t.throws(() => srcset('a.jpg', { widths: [0] }), /positive integer/);
  t.throws(() => srcset('a.jpg', { widths: [10.5] }), /positive integer/);
});

t.test('sizes', async (t) => {
  t.equal(sizes('  50vw '), '50vw');
  t.equal(sizes([{ media: '(max-width: 600px)', size: '100vw' }, { media: 'min-width: 1200px', size: 800 }, { size: '50vw' }]),
    '(max-width: 600px) 100vw, (min-width: 1200px) 800px, 50vw');
  t.equal(sizes([{ size: '100vw' }, { media: '(max-width: 1px)', size: '1px' }]), '100vw', 'nothing after the default');
});

t.test('imageTag', async (t) => {
  const tag = imageTag('folder/cat.jpg', {
    host: H, alt: 'A "cat" & <dog>', widths: [320, 640, 1280], crop: 'fill', width: 640, height: 480,
    sizes: [{ media: '(max-width: 700px)', size: '100vw' }, { size: '640px' }],
    attributes: { class: 'hero', 'data-x': "it's", loading: 'eager', hidden: true, title: undefined },
  });
  t.equal(tag, '<img src="https://img.example.com/image/upload/c_fill,h_480,w_640/v1/folder/cat.jpg" '
    + 'srcset="https://img.example.com/image/upload/c_fill,h_240,w_320/v1/folder/cat.jpg 320w, '
    + 'https://img.example.com/image/upload/c_fill,h_480,w_640/v1/folder/cat.jpg 640w, '
    + 'https://img.example.com/image/upload/c_fill,h_960,w_1280/v1/folder/cat.jpg 1280w" '
    + 'sizes="(max-width: 700px) 100vw, 640px" alt="A &#34;cat&#34; &#38; &#60;dog&#62;" width="640" height="480" '
    + 'loading="eager" decoding="async" class="hero" data-x="it&#39;s" hidden>');

  const plain = imageTag('a.jpg', { alt: '' , quality: 'auto' });
  t.equal(plain, '<img src="/image/upload/q_auto/a.jpg" alt="" loading="lazy" decoding="async">');

  const noWidth = imageTag('a.jpg', { alt: 'x', widths: [400, 900, 1400], crop: 'fill', aspect_ratio: '4:3' });
  t.match(noWidth, /^<img src="\/image\/upload\/ar_4:3,c_fill,w_900\/a\.jpg" /, 'src falls back to the largest width <= 1024');
  t.match(noWidth, / sizes="100vw" /);
  t.notMatch(noWidth, / width=/, 'no box known without a width');

  t.throws(() => imageTag('a.jpg', { alt: 'x', attributes: { 'on"click': 'x' } }), /attribute name/);
});

t.test('knownDimensions', async (t) => {
  t.same(knownDimensions({ width: 300, height: 200, crop: 'fill' }), { width: 300, height: 200 });
  t.same(knownDimensions({ width: 300, aspect_ratio: '16:9', crop: 'fill' }), { width: 300, height: 169 });
  t.same(knownDimensions({ height: 100, aspectRatio: 1.5, crop: 'crop' }), { width: 150, height: 100 });
  t.equal(knownDimensions({ width: 300, height: 200, crop: 'fit' }), null, 'fit: the source shape decides');
  t.equal(knownDimensions({ width: 300 }), null);
  t.equal(knownDimensions({ width: 'auto', height: 200, crop: 'fill' }), null);
  t.equal(knownDimensions({ width: 0.5, height: 0.5, crop: 'fill' }), null);
});

t.test('client hints', async (t) => {
  t.equal(clientHintsMeta('img.example.com'),
    '<meta http-equiv="delegate-ch" content="sec-ch-width https://img.example.com; '
    + 'sec-ch-dpr https://img.example.com; sec-ch-viewport-width https://img.example.com">');
  t.equal(clientHintsMeta('http://127.0.0.1:3000/path'),
    '<meta http-equiv="delegate-ch" content="sec-ch-width http://127.0.0.1:3000; '
    + 'sec-ch-dpr http://127.0.0.1:3000; sec-ch-viewport-width http://127.0.0.1:3000">');
  t.same(clientHintsHeaders('img.example.com'), {
    'Accept-CH': 'Sec-CH-Width, Sec-CH-DPR, Sec-CH-Viewport-Width',
    'Permissions-Policy': 'ch-width=(self "https://img.example.com"), ch-dpr=(self "https://img.example.com"), '
      + 'ch-viewport-width=(self "https://img.example.com")',
  });
});

t.test('breakpointsUrl', async (t) => {
  t.equal(breakpointsUrl('a.jpg', { host: H }), 'https://img.example.com/image/upload/c_scale,w_auto:breakpoints:json/a.jpg');
  t.equal(breakpointsUrl('a.jpg', { maxWidth: 2000, maxImages: 10 }), '/image/upload/c_scale,w_auto:breakpoints_50_2000_20_10:json/a.jpg');
  t.equal(url('a.jpg', { width: 'auto:breakpoints:json' }), '/image/upload/w_auto:breakpoints:json/a.jpg');
});

/**
 * The official Cloudinary Node SDK as the reference for `@aperture/sdk`'s `url()`, and the
 * hand-written option table both the in-process test (test/sdk/url.test.ts) and the packed
 * package test (test/sdk/package.test.ts) compare on.
 */
import { createRequire } from 'node:module';
import type { UrlOptions } from '@aperture/sdk';

const require = createRequire(import.meta.url);
export const cld = (require('cloudinary') as { v2: { url(id: string, o: Record<string, unknown>): string } }).v2;

export const HOST = 'localhost:3000';
export const SECRET = 'test-secret';

/**
 * The official SDK's URL for the same request, configured the way an application pointing at
 * Aperture would (private CDN on our host; a `cloud` means a shared-domain style URL; http goes
 * through `cname`). Analytics off: Aperture ignores `?_a=`, and the SDK builds it from its own
 * version numbers.
 */
export function official(id: string, ours: UrlOptions, theirs?: Record<string, unknown>): string {
  const { host: _h, cloud, signer: _s, secure, ...rest } = ours;
  return cld.url(id, {
    ...(theirs ?? rest),
    urlAnalytics: false,
    cloud_name: cloud ?? 'demo',
    private_cdn: !cloud,
    secure_distribution: HOST,
    cname: HOST,
    secure: secure ?? true,
    api_secret: SECRET,
  });
}

export interface Case { id: string; o: UrlOptions; theirs?: Record<string, unknown> }

export const cases: Case[] = [
  { id: 'sample.jpg', o: {} },
  { id: 'sample', o: { format: 'jpg' } },
  { id: 'sample', o: { width: 100, height: 200, crop: 'fill' } },
  { id: 'sample.jpg', o: { width: 300, crop: 'scale' } },
  { id: 'sample.jpg', o: { width: 0.5 } },
  { id: 'sample.jpg', o: { width: 'auto', crop: 'scale' } },
  { id: 'sample.jpg', o: { width: 'auto:100:387', crop: 'limit' } },
  { id: 'sample.jpg', o: { width: 'auto:breakpoints', crop: 'scale' } },
  { id: 'sample.jpg', o: { width: 'auto:breakpoints_200_1920_30_15:json', crop: 'scale' } },
  { id: 'sample.jpg', o: { dpr: 2, width: 100 } },
  { id: 'sample.jpg', o: { dpr: '2.0', width: 100 } },
  { id: 'sample.jpg', o: { dpr: 'auto', width: 'auto', crop: 'scale' } },
  { id: 'sample.jpg', o: { crop: 'thumb', gravity: 'face', width: 150, height: 150, zoom: 0.75 } },
  { id: 'sample.jpg', o: { crop: 'fill', gravity: 'auto', aspect_ratio: '16:9', width: 800 } },
  { id: 'sample.jpg', o: { aspect_ratio: 1.5, crop: 'fill', width: 400 } },
  { id: 'sample.jpg', o: { crop: 'crop', x: 10, y: 20, width: 100, height: 100 } },
  { id: 'sample.jpg', o: { crop: 'pad', background: '#ff0000', width: 300, height: 300 } },
  { id: 'sample.jpg', o: { crop: 'lpad', background: 'auto:predominant', width: 300, height: 200 } },
  { id: 'sample.jpg', o: { crop: 'fill', gravity: 'north_east', width: 50, height: 60 } },
  { id: 'sample.jpg', o: { crop: 'auto', gravity: 'auto:subject', width: 200, height: 200 } },
  { id: 'sample.jpg', o: { crop: 'fill_pad', gravity: 'auto', width: 200, height: 100, background: 'auto' } },
  { id: 'sample.jpg', o: { crop: 'thumb', gravity: 'faces:center', width: 0.4, height: 0.4, x: 0.1, y: '0.2' } },
  { id: 'sample.jpg', o: { quality: 'auto' } },
  { id: 'sample', o: { quality: 'auto:eco', fetch_format: 'auto' } },
  { id: 'sample.jpg', o: { quality: '80:420' } },
  { id: 'sample', o: { quality: 60, format: 'webp' } },
  { id: 'sample.jpg', o: { effect: 'sepia' } },
  { id: 'sample.jpg', o: { effect: 'blur:300', width: 400 } },
  { id: 'sample.jpg', o: { effect: ['sharpen', 100] } },
  { id: 'sample.jpg', o: { effect: { brightness: 30 } } },
  { id: 'sample.jpg', o: { effect: 'grayscale', angle: 90 } },
  { id: 'sample.jpg', o: { angle: ['hflip', 'auto'] } },
  { id: 'sample.jpg', o: { angle: -20, background: 'transparent' } },
  { id: 'sample.jpg', o: { radius: 20 } },
  { id: 'sample.jpg', o: { radius: 'max', background: 'black' } },
  { id: 'sample.jpg', o: { radius: [10, 20, 30, 40] } },
  { id: 'sample.jpg', o: { border: '3px_solid_black' } },
  { id: 'sample.jpg', o: { border: { width: 4, color: '#00ff00' } } },
  { id: 'sample.jpg', o: { border: 5, width: 10 } },
  { id: 'sample.jpg', o: { opacity: 50 } },
  { id: 'sample.jpg', o: { flags: 'progressive' } },
  { id: 'sample.jpg', o: { flags: ['progressive', 'strip_profile'], quality: 'auto:best' } },
  { id: 'sample.jpg', o: { flags: ['attachment:my_file', 'immutable_cache'] } },
  { id: 'sample.jpg', o: { default_image: 'avatar.png', width: 100 } },
  { id: 'doc.pdf', o: { page: 2, format: 'png' } },
  { id: 'sample.jpg', o: { transformation: [{ width: 100, crop: 'scale' }, { angle: 45 }] } },
  {
    id: 'sample.jpg',
    o: {
      transformation: [{ crop: 'fill', width: 200, height: 200, gravity: 'auto' }, { effect: 'sepia' },
        { quality: 'auto', fetch_format: 'auto' }],
      width: 50,
    },
  },
  { id: 'sample.jpg', o: { transformation: 'thumb' } },
  { id: 'sample.jpg', o: { transformation: ['a', 'b'], width: 10 } },
  { id: 'sample.jpg', o: { transformation: [{ width: 100 }, 'named'] } },
  { id: 'sample.jpg', o: { raw_transformation: 'e_sepia,w_100', width: 50 } },
  { id: 'folder/sample.jpg', o: {} },
  { id: 'folder/sample', o: { version: 1712345678, format: 'png' } },
  { id: 'folder/sample.jpg', o: { force_version: false } },
  { id: 'deep/a/b/c.png', o: { width: 10 } },
  { id: 'v2/foo.jpg', o: {} },
  { id: 'a b+c.jpg', o: {} },
  { id: 'dossier/été à Paris.jpg', o: { width: 10 } },
  { id: 'x%20y.jpg', o: {} },
  { id: 'a:b&c=d?e#f.jpg', o: {} },
  { id: 'sample.jpg', o: { sign_url: true } },
  { id: 'sample.jpg', o: { sign_url: true, width: 300, crop: 'fill', gravity: 'auto', quality: 'auto' } },
  { id: 'folder/sample.jpg', o: { sign_url: true, version: 42 } },
  { id: 'sample.jpg', o: { sign_url: true, long_url_signature: true } },
  { id: 'folder/x', o: { sign_url: true, long_url_signature: true, format: 'webp', transformation: [{ width: 10 }, { dpr: 2 }] } },
  { id: 'https://example.com/images/photo.jpg', o: { type: 'fetch', width: 300 } },
  { id: 'https://example.com/images/photo', o: { type: 'fetch', format: 'png' } },
  { id: 'https://example.com/a b/photo.jpg?size=large&x=1', o: { type: 'fetch', sign_url: true, width: 100 } },
  { id: 'http://example.com//double//slash.jpg', o: { type: 'fetch', fetch_format: 'auto', quality: 'auto' } },
  { id: 'https://example.com/é.jpg', o: { type: 'fetch', sign_url: true, long_url_signature: true } },
  { id: 'secret/file.png', o: { type: 'private', sign_url: true } },
  { id: 'sample.jpg', o: { type: 'authenticated', sign_url: true, width: 100 } },
  { id: 'sample.jpg', o: { type: 'private', width: 100 } },
  {
    id: 'sample.jpg',
    o: { aspectRatio: '4:3', crop: 'fill', width: 400, fetchFormat: 'auto' },
    theirs: { aspect_ratio: '4:3', crop: 'fill', width: 400, fetch_format: 'auto' },
  },
  {
    id: 'folder/sample.jpg',
    o: { signUrl: true, longUrlSignature: true, defaultImage: 'x.png', colorSpace: 'srgb' },
    theirs: { sign_url: true, long_url_signature: true, default_image: 'x.png', color_space: 'srgb' },
  },
  {
    id: 'folder/sample.jpg',
    o: { rawTransformation: 'e_vignette', resourceType: 'image', forceVersion: false, responsiveWidth: true },
    theirs: { raw_transformation: 'e_vignette', resource_type: 'image', force_version: false, responsive_width: true },
  },
  {
    id: 'sample.jpg',
    o: { transformation: [{ aspectRatio: 2, crop: 'fill', width: 10 }, { fetchFormat: 'avif' }] },
    theirs: { transformation: [{ aspect_ratio: 2, crop: 'fill', width: 10 }, { fetch_format: 'avif' }] },
  },
  { id: 'sample.jpg', o: { cloud: 'demo2', width: 10 } },
  { id: 'folder/sample.jpg', o: { cloud: 'tenant', sign_url: true } },
  { id: 'sample.jpg', o: { secure: false, width: 10 } },
  { id: 'sample.jpg', o: { if: 'width > 300', width: 300, crop: 'scale' } },
  { id: 'sample.jpg', o: { if: 'initial_width >= 1000 && face_count != 0', effect: 'pixelate_faces' } },
  { id: 'sample.jpg', o: { $w: 'width * 2', $h: 100, variables: [['$a', 'initial_width / 2']], width: '$w' } },
  { id: 'sample.jpg', o: { overlay: 'logo', gravity: 'south_east', x: 10, y: 10, width: 50 } },
  { id: 'sample.jpg', o: { overlay: { public_id: 'brand/logo', format: 'png' }, flags: 'relative', width: 0.2 } },
  { id: 'sample.jpg', o: { overlay: { font_family: 'Arial', font_size: 40, font_weight: 'bold', text: 'Hello, World/1 (ok)' } } },
  { id: 'sample.jpg', o: { overlay: { font_family: 'Roboto', font_size: 12, letter_spacing: 4, text_align: 'center', text: 'Ünïcode $(name) & more' } } },
  { id: 'sample.jpg', o: { overlay: 'fetch:https://example.com/logo.png', width: 100 } },
  { id: 'sample.jpg', o: { underlay: 'bg', crop: 'pad', width: 500 } },
  { id: 'sample.jpg', o: { size: '300x200', crop: 'fill' } },
  { id: 'sample.jpg', o: { shorten: true, width: 10 } },
  { id: 'sample.jpg', o: { responsive_width: true, width: 100 } },
  { id: 'sample.jpg', o: { color: '#ff00ff', effect: 'colorize:50' } },
  { id: 'sample.tiff', o: { density: 300, color_space: 'srgb', prefix: 'pre', delay: 20 } },
  { id: 'image/upload/v1234/folder/x.jpg', o: { width: 10 } },
  { id: 'https://example.com/not-processed.jpg', o: {} },
  { id: 'sample.jpg', o: { custom_function: { function_type: 'wasm', source: 'blur.wasm' } } },
  { id: 'sample.jpg', o: { custom_function: { function_type: 'remote', source: 'https://fn.example.com/f?a=1' } } },
  { id: 'sample.jpg', o: { zoom: '1.5', crop: 'thumb', gravity: 'face', width: 100, height: 100 } },
  { id: 'a//b.jpg', o: {} },
  { id: 'https://x.com/a.jpg', o: { type: 'upload' } },
  { id: 'a.jpg', o: { version: 'v5' } },
  { id: 'a.jpg', o: { width: '', crop: undefined } },
  { id: 'a.jpg', o: { effect: { a: 1, b: 2 } } },
  { id: 'a.jpg', o: { radius: 0, angle: 0, x: 0, opacity: 0 } },
  { id: 'a.jpg', o: { transformation: [], flags: [] } },
  { id: 'a.jpg', o: { overlay: { resource_type: 'image', type: 'private', public_id: 'x' } } },
  {
    id: 'a.jpg',
    o: { quality: 'auto', transformation: [{ if: 'aspect_ratio > 1.5', width: 10 }, { if: 'else', width: 20 }, { if: 'end' }] },
  },
  { id: 'a%2Fb.jpg', o: {} },
  { id: '$weird.jpg', o: {} },
];

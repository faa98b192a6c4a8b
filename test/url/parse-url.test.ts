/**
 * URL shapes of url-api.md §1: cloud or not, `/iu/`, signatures, versions, folders,
 * percent-encoding, extensions, fetch URLs, and what is refused.
 */
import t from 'tap';
import { parseDeliveryUrl } from '../../src/url/parse-url.ts';
import { isHttpError } from '../../src/errors.ts';

function refusal(path: string): string {
  try {
    const u = parseDeliveryUrl(path);
    return u ? `parsed as ${u.publicId}` : 'not a delivery URL';
  } catch (e) {
    return isHttpError(e) ? `${e.statusCode} ${e.message}` : `threw ${String(e)}`;
  }
}

t.test('accepted shapes', async (t) => {
  const table: [string, Record<string, unknown>][] = [
    ['/image/upload/sample.jpg', { cloud: undefined, type: 'upload', components: [], publicId: 'sample', ext: 'jpg', extFormat: 'jpeg', version: undefined, signature: undefined }],
    ['/demo/image/upload/w_100/sample.jpg', { cloud: 'demo', type: 'upload', components: ['w_100'], publicId: 'sample', extFormat: 'jpeg' }],
    ['/iu/w_100/sample.png', { cloud: undefined, type: 'upload', components: ['w_100'], publicId: 'sample', extFormat: 'png' }],
    ['/demo/iu/sample.webp', { cloud: 'demo', type: 'upload', publicId: 'sample', extFormat: 'webp' }],
    ['/image/upload/c_fill,h_50,w_100/e_grayscale/sample', { components: ['c_fill,h_50,w_100', 'e_grayscale'], publicId: 'sample', ext: undefined, extFormat: undefined }],
    ['/image/upload/w_100/v123/folder/id.webp', { components: ['w_100'], version: '123', publicId: 'folder/id', extFormat: 'webp' }],
    ['/image/upload/v1/w_100.jpg', { components: [], version: '1', publicId: 'w_100', extFormat: 'jpeg' }],
    ['/image/upload/shoes/red.jpg', { components: [], publicId: 'shoes/red', extFormat: 'jpeg' }],
    ['/image/upload/w_100/my_photos/red', { components: ['w_100'], publicId: 'my_photos/red' }],
    ['/image/upload/a%20b.jpg', { publicId: 'a b', extFormat: 'jpeg' }],
    ['/image/upload/caf%C3%A9/cr%C3%A8me.png', { publicId: 'café/crème', extFormat: 'png' }],
    ['/image/upload/a.b.c.gif', { publicId: 'a.b.c', ext: 'gif', extFormat: 'gif' }],
    ['/image/upload/notes.txt', { publicId: 'notes.txt', ext: undefined, extFormat: undefined }],
    // Extensions are looked up in a Map: inherited object keys are no extension.
    ['/image/upload/a.constructor', { publicId: 'a.constructor', ext: undefined, extFormat: undefined }],
    ['/image/upload/a.jp2', { publicId: 'a', ext: 'jp2', extFormat: undefined }],
    ['/image/upload/logo.svg', { publicId: 'logo', ext: 'svg', extFormat: undefined }],
    ['/image/upload/photo.JPG', { publicId: 'photo', ext: 'jpg', extFormat: 'jpeg' }],
    ['/image/upload/photo.tif', { extFormat: 'tiff' }],
    ['/image/upload/photo.avif', { extFormat: 'avif' }],
    ['/image/upload/s--Ai4Znfl3--/c_crop,h_20,w_10/image.jpg', { signature: 'Ai4Znfl3', components: ['c_crop,h_20,w_10'], signedText: 'c_crop,h_20,w_10/image.jpg' }],
    ['/image/upload/s--abcdefgh--/w_1/v5/a%20b.jpg', { signature: 'abcdefgh', version: '5', signedText: 'w_1/a%20b.jpg', publicId: 'a b' }],
    ['/image/upload/s--2hbrSMPOjj5BJ4xV7SgFbRDevFaQNUFf--/sample.jpg', { signature: '2hbrSMPOjj5BJ4xV7SgFbRDevFaQNUFf', signedText: 'sample.jpg' }],
    ['/image/private/w_100/secret.jpg', { type: 'private', components: ['w_100'], publicId: 'secret' }],
    ['/image/authenticated/secret.jpg', { type: 'authenticated', publicId: 'secret' }],
    ['/image/upload/w_100,zz_1/a.jpg', { components: ['w_100,zz_1'], publicId: 'a' }],
    ['/image/upload/zz_1/a.jpg', { components: [], publicId: 'zz_1/a' }],
    // fetch: the remote URL follows raw; ? arrives as %3F; a collapsed https:/ is tolerated later
    ['/image/fetch/w_300/https://example.com/a.jpg', { type: 'fetch', components: ['w_300'], publicId: 'https://example.com/a.jpg', extFormat: 'jpeg' }],
    ['/image/fetch/https://example.com/a.png%3Fx=1', { type: 'fetch', publicId: 'https://example.com/a.png%3Fx=1', ext: 'png' }],
    ['/image/fetch/f_webp/https:/example.com/photo', { type: 'fetch', components: ['f_webp'], publicId: 'https:/example.com/photo', ext: undefined }],
    ['/demo/image/fetch/https://example.com/dir/b.gif', { cloud: 'demo', type: 'fetch', publicId: 'https://example.com/dir/b.gif' }],
  ];
  for (const [path, want] of table) {
    const u = parseDeliveryUrl(path);
    if (!u) { t.fail(`${path}: not parsed`); continue; }
    const got: Record<string, unknown> = {};
    for (const k of Object.keys(want)) got[k] = (u as unknown as Record<string, unknown>)[k];
    t.same(got, want, path);
  }
});

t.test('refused shapes', async (t) => {
  const bad = 'Invalid URL: invalid public id';
  const table: [string, string][] = [
    ['/image/upload/../secret.jpg', `400 ${bad}`],
    ['/image/upload/a/../../etc/passwd', `400 ${bad}`],
    ['/image/upload/%2e%2e/etc/passwd', `400 ${bad}`],
    ['/image/upload/..%2F..%2Fetc%2Fpasswd', `400 ${bad}`],
    ['/image/upload/..%5C..%5Cwindows', `400 ${bad}`],
    ['/image/upload/a%00b.jpg', `400 ${bad}`],
    ['/image/upload/./a.jpg', `400 ${bad}`],
    ['/image/upload/a//b.jpg', `400 ${bad}`],
    ['/image/upload/%zz.jpg', '400 Invalid URL: malformed percent-encoding in public id'],
    ['/image/upload/', '400 Invalid URL: missing public id'],
    ['/image/upload/w_100/', '400 Invalid URL: missing public id'],
    ['/image/bogus/a.jpg', '400 Invalid URL: unsupported delivery type "bogus"'],
    ['/video/upload/a.mp4', 'not a delivery URL'],
    ['/raw/upload/a.txt', 'not a delivery URL'],
    ['/health', 'not a delivery URL'],
    ['/', 'not a delivery URL'],
  ];
  for (const [path, want] of table) t.equal(refusal(path), want, path);
});

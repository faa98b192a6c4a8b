import t from 'tap';
import { isHttpError } from '../../src/errors.ts';
import { resolveRemoteMapping } from '../../src/origin/remote-mapping.ts';

const mappings = {
  photos: 'https://img.example.com/assets/',
  'photos/raw': 'https://raw.example.com/',
  media: 'https://media.example.net/base', // no trailing slash: one is added
};

t.test('maps a folder prefix onto its base, longest folder first', async (t) => {
  const table: [string, string | undefined][] = [
    ['photos/a.jpg', 'https://img.example.com/assets/a.jpg'],
    ['photos/2024/summer/a.jpg', 'https://img.example.com/assets/2024/summer/a.jpg'],
    ['photos/raw/a.jpg', 'https://raw.example.com/a.jpg'],
    ['photos/rawer/a.jpg', 'https://img.example.com/assets/rawer/a.jpg'],
    ['media/x.png', 'https://media.example.net/base/x.png'],
    ['photos/a b.jpg', 'https://img.example.com/assets/a%20b.jpg'],
    ['photos/ä/ü?.jpg', 'https://img.example.com/assets/%C3%A4/%C3%BC%3F.jpg'],
    ['photos/100%.jpg', 'https://img.example.com/assets/100%25.jpg'],
    ['photos/a#b.jpg', 'https://img.example.com/assets/a%23b.jpg'],
    ['photosx/a.jpg', undefined],
    ['photos', undefined],
    ['photos/', undefined],
    ['other/a.jpg', undefined],
    ['a.jpg', undefined],
  ];
  for (const [id, want] of table) t.equal(resolveRemoteMapping(id, mappings), want, id);
  t.equal(resolveRemoteMapping('photos/a.jpg', {}), undefined, 'no mappings');
});

t.test('the mapped URL parses back to the same path segments', async (t) => {
  for (const id of ['photos/a b/c.jpg', 'photos/%2e%2e/x.jpg', 'photos/q?x=1.jpg']) {
    const url = new URL(resolveRemoteMapping(id, mappings)!);
    t.equal(url.origin, 'https://img.example.com');
    t.equal(url.search, '', `${id}: nothing leaks into the query`);
    t.same(url.pathname.split('/').slice(2).map(decodeURIComponent), id.split('/').slice(1), id);
  }
});

t.test('dot segments would climb out of the base path and are refused', async (t) => {
  for (const id of ['photos/../secret.jpg', 'photos/a/./b.jpg', 'photos/..', 'photos/raw/../../x.jpg']) {
    let err: unknown;
    try { resolveRemoteMapping(id, mappings); } catch (e) { err = e; }
    t.ok(isHttpError(err) && err.statusCode === 400, `${id} → 400`);
  }
});

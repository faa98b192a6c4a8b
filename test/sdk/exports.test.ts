import t from 'tap';
import * as sdk from 'aperture/sdk';
import * as direct from '../../src/sdk/index.ts';

t.test('package self-reference "aperture/sdk" resolves to the SDK entry point', async (t) => {
  t.equal(sdk.url, direct.url);
  t.same(Object.keys(sdk).sort(), [
    'DEFAULT_WIDTHS', 'breakpointsUrl', 'clientHintsHeaders', 'clientHintsMeta', 'escapeHtml', 'imageTag',
    'knownDimensions', 'normalizeExpression', 'sizes', 'srcset', 'transformationString', 'url',
  ]);
  t.equal(sdk.url('a.jpg', { host: 'h', width: 1 }), 'https://h/image/upload/w_1/a.jpg');
});

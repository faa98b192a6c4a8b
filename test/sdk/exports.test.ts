import t from 'tap';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import * as sdk from '@aperture/sdk';
import * as sign from '@aperture/sdk/sign';

const root = path.resolve(fileURLToPath(import.meta.url), '../../..');

t.test('"@aperture/sdk" is the workspace package, its TypeScript source under the test condition', async (t) => {
  // .taprc runs the tests with --conditions=@aperture/source, as tsconfig.json's customConditions.
  t.equal(fileURLToPath(import.meta.resolve('@aperture/sdk')), path.join(root, 'packages/sdk/src/index.ts'));
  t.equal(fileURLToPath(import.meta.resolve('@aperture/sdk/sign')), path.join(root, 'packages/sdk/src/sign.ts'));
  t.same(Object.keys(sdk).sort(), [
    'DEFAULT_WIDTHS', 'breakpointsUrl', 'clientHintsHeaders', 'clientHintsMeta', 'escapeHtml', 'imageTag',
    'knownDimensions', 'normalizeExpression', 'sizes', 'srcset', 'transformationString', 'url',
  ]);
  t.same(Object.keys(sign).sort(), ['LONG_SIGNATURE_LENGTH', 'SHORT_SIGNATURE_LENGTH', 'computeSignature', 'signer']);
  t.equal(sdk.url('a.jpg', { host: 'h', width: 1 }), 'https://h/image/upload/w_1/a.jpg');
});

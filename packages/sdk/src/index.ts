/**
 * `@aperture/sdk`: build Aperture delivery URLs, srcset/sizes attributes and `<img>` tags from an
 * application. URLs are the ones `cloudinary.v2.url()` builds for the same options, so the two
 * can be swapped without changing cache keys or signatures.
 *
 * No runtime dependency and no `node:` import: it runs in browsers and edge runtimes. Signing
 * needs the secret, so it lives in the server-side entry `@aperture/sdk/sign`.
 */
export { url, type UrlOptions, type DeliveryOptions, type Signer } from './url.ts';
export {
  transformationString, normalizeExpression,
  type TransformationOptions, type LayerOptions, type CustomFunction,
} from './transformation.ts';
export {
  srcset, sizes, imageTag, clientHintsMeta, clientHintsHeaders, breakpointsUrl, knownDimensions,
  escapeHtml, DEFAULT_WIDTHS,
  type SrcsetOptions, type SizesRule, type ImageTagOptions, type AttributeValue,
} from './responsive.ts';

/**
 * `aperture/sdk`: build Aperture delivery URLs, srcset/sizes attributes and `<img>` tags from an
 * application. URLs are the ones `cloudinary.v2.url()` builds for the same options, so the two
 * can be swapped without changing cache keys or signatures.
 */
export { url, type UrlOptions, type DeliveryOptions } from './url.ts';
export {
  transformationString, normalizeExpression,
  type TransformationOptions, type LayerOptions, type CustomFunction,
} from './transformation.ts';
export {
  srcset, sizes, imageTag, clientHintsMeta, clientHintsHeaders, breakpointsUrl, knownDimensions,
  escapeHtml, DEFAULT_WIDTHS,
  type SrcsetOptions, type SizesRule, type ImageTagOptions, type AttributeValue,
} from './responsive.ts';

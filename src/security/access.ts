/**
 * Who may request what (url-api.md §6). The signature covers the URL text as received
 * (percent-encoding kept).
 *
 * - `private` and `authenticated` delivery types always need a valid signature.
 * - Strict mode (APERTURE_STRICT=1), like Cloudinary's "strict transformations", serves
 *   unsigned only what is already the stored asset or explicitly allowed:
 *   - every transformation not listed in APERTURE_STRICT_ALLOW needs a signature;
 *   - every `fetch` URL needs one, with or without transformations: fetching a remote image
 *     makes a new derived asset just as a transformation does. It is checked from the URL
 *     alone, before the plan is parsed or the remote URL looked at;
 *   - an extension that converts the stored format counts as a transformation (Cloudinary:
 *     "the file extension and the transformation part of the URL must be identical to one of
 *     the pre-generated transformations"). `cat.png` of a stored PNG is the original;
 *     `cat.webp` or `cat.gif` of it needs a signature, unless a component sets the format
 *     (then the extension changes nothing) and that transformation is allowed. To allow a
 *     conversion unsigned, allow a transformation with `f_` (`APERTURE_STRICT_ALLOW=f_webp`).
 *     This needs the source's format, so it is checked once the source is loaded
 *     (`checkFormat`).
 *   - In strict mode a signature that is present is always verified, so that "signed" means
 *     "validly signed" in every check above.
 */
import type { Config } from '../config.ts';
import type { DeliveryUrl } from '../url/parse-url.ts';
import type { Plan } from '../plan/parse.ts';
import type { SourceMeta } from '../render/source-meta.ts';
import { sourceFormat } from '../render/render.ts';
import { Errors } from '../errors.ts';
import { verifySignature } from './signature.ts';

export interface Access {
  /**
   * From the URL alone, before its transformation is parsed: throws BAD_SIGNATURE (401) when
   * the URL needs a signature it lacks or carries a wrong one.
   */
  check(url: DeliveryUrl): void;
  /**
   * Whether serving this URL also depends on the source's format (strict mode, unsigned, an
   * extension that no `f_` overrides): then `checkFormat` must pass before anything is served.
   */
  needsFormatCheck(url: DeliveryUrl, plan: Plan): boolean;
  /** Throws BAD_SIGNATURE when the URL's extension converts the stored format (see above). */
  checkFormat(url: DeliveryUrl, meta: SourceMeta): void;
}

export function createAccess(config: Config): Access {
  const allowed = new Set(config.strictAllowed);
  function signatureOk(url: DeliveryUrl): boolean {
    if (!url.signature || !config.secret) return false;
    if (verifySignature(url.signature, url.signedText, config.secret)) return true;
    // The SDKs sign spaces inside transformations before escaping them.
    const spaced = url.signedText.replace(/%20/g, ' ');
    return spaced !== url.signedText && verifySignature(url.signature, spaced, config.secret);
  }
  function required(url: DeliveryUrl): boolean {
    if (url.type === 'private' || url.type === 'authenticated') return true;
    if (!config.strict) return false;
    return url.type === 'fetch' || url.signature !== undefined
      || (url.components.length > 0 && !allowed.has(url.components.join('/')));
  }
  return {
    check(url) {
      if (!required(url)) return;
      if (!url.signature) throw new Errors.BAD_SIGNATURE('a signed URL is required');
      if (!signatureOk(url)) throw new Errors.BAD_SIGNATURE('signature does not match');
    },
    needsFormatCheck(url, plan) {
      // Signed URLs passed `check` with a valid signature (strict mode verifies every one).
      return config.strict && url.signature === undefined && url.extFormat !== undefined
        && !plan.components.some((c) => c.format !== undefined);
    },
    checkFormat(url, meta) {
      const stored = sourceFormat(meta);
      if (url.extFormat !== undefined && url.extFormat !== stored) {
        throw new Errors.BAD_SIGNATURE(`a signed URL is required to convert ${stored} to ${url.extFormat} by extension (strict mode)`);
      }
    },
  };
}

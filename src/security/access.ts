/**
 * Who may request what (url-api.md §6): `private` and `authenticated` delivery types always
 * need a valid signature; strict mode needs one for every transformation not explicitly
 * allowed in config. The signature covers the URL text as received (percent-encoding kept).
 */
import type { Config } from '../config.ts';
import type { DeliveryUrl } from '../url/parse-url.ts';
import type { Plan } from '../plan/parse.ts';
import { Errors } from '../errors.ts';
import { verifySignature } from './signature.ts';

export interface Access {
  check(url: DeliveryUrl, plan: Plan): void;
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
  return {
    check(url, plan) {
      const needs = url.type === 'private' || url.type === 'authenticated'
        || (config.strict && plan.components.length > 0 && !allowed.has(url.components.join('/')));
      if (!needs) return;
      if (!url.signature) throw new Errors.BAD_SIGNATURE('a signed URL is required');
      if (!signatureOk(url)) throw new Errors.BAD_SIGNATURE('signature does not match');
    },
  };
}

/**
 * Which origin serves a delivery URL: `upload`/`private`/`authenticated` read local storage,
 * unless the public id's folder is mapped to a remote base URL (auto-upload mapping); `fetch`
 * takes the remote URL from the path. Remote loads go through the SSRF-guarded HTTP origin.
 */
import type { Config } from '../config.ts';
import type { DeliveryUrl } from '../url/parse-url.ts';
import type { Source } from './types.ts';
import { createLocalOrigin } from './local.ts';
import { createHttpOrigin, normalizeFetchUrl, type HttpOriginOptions } from './http.ts';
import { resolveRemoteMapping } from './remote-mapping.ts';

export interface Origins {
  load(url: DeliveryUrl): Promise<Source>;
  /**
   * The source `load` would return, when it is known to be current without any I/O (a local
   * file validated at the current watch generation); undefined otherwise. Lets a cache hit be
   * answered synchronously.
   */
  peek(url: DeliveryUrl): Source | undefined;
  close(): Promise<void>;
}

export function createOrigins(config: Config, httpOptions: HttpOriginOptions = {}): Origins {
  const local = createLocalOrigin(config.storageDir, { cacheBytes: config.sourceCacheBytes, maxSourceBytes: config.maxSourceBytes, watch: config.storageWatch });
  const http = createHttpOrigin(config, httpOptions);
  return {
    load(url) {
      if (url.type === 'fetch') return http.load(normalizeFetchUrl(url.publicId));
      const remote = resolveRemoteMapping(url.ext ? `${url.publicId}.${url.ext}` : url.publicId, config.remoteMappings);
      if (remote) return http.load(remote);
      return local.loadWithExt(url.publicId, url.ext);
    },
    peek(url) {
      if (url.type === 'fetch' || resolveRemoteMapping(url.ext ? `${url.publicId}.${url.ext}` : url.publicId, config.remoteMappings)) return undefined;
      return local.peek(url.publicId, url.ext);
    },
    close: async () => {
      local.close();
      await http.close();
    },
  };
}

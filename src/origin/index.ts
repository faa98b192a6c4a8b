/**
 * Which origin serves a delivery URL. Each stored delivery type reads its own local folder:
 * `upload` the storage folder, `private` and `authenticated` theirs (APERTURE_PRIVATE_DIR,
 * APERTURE_AUTHENTICATED_DIR). Cloudinary stores the delivery type with the asset, so an
 * asset uploaded as `upload` is not found as `private` and the other way round; the folders
 * play that part until storage records the type. Only `upload` ids may be mapped to a remote
 * base URL (auto-upload mapping, as in Cloudinary); `fetch` takes the remote URL from the path.
 * Remote loads go through the SSRF-guarded HTTP origin.
 */
import type { Config } from '../config.ts';
import type { DeliveryType, DeliveryUrl } from '../url/parse-url.ts';
import type { Source } from './types.ts';
import { createLocalOrigin, createSourceBytes, type LocalOrigin } from './local.ts';
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

type StoredType = Exclude<DeliveryType, 'fetch'>;

/** The local folder of each stored delivery type, sharing one source byte budget. */
function createStores(config: Config): Record<StoredType, LocalOrigin> {
  const bytes = createSourceBytes(config.sourceCacheBytes);
  const store = (root: string) => createLocalOrigin(root, { cacheBytes: config.sourceCacheBytes, bytes, maxSourceBytes: config.maxSourceBytes, watch: config.storageWatch });
  return { upload: store(config.storageDir), private: store(config.privateDir), authenticated: store(config.authenticatedDir) };
}

export function createOrigins(config: Config, httpOptions: HttpOriginOptions = {}): Origins {
  const stores = createStores(config);
  const http = createHttpOrigin(config, httpOptions);
  const remoteOf = (url: DeliveryUrl) => (url.type === 'upload'
    ? resolveRemoteMapping(url.ext ? `${url.publicId}.${url.ext}` : url.publicId, config.remoteMappings)
    : undefined);
  return {
    load(url) {
      if (url.type === 'fetch') return http.load(normalizeFetchUrl(url.publicId));
      const remote = remoteOf(url);
      if (remote) return http.load(remote);
      return stores[url.type].loadWithExt(url.publicId, url.ext);
    },
    peek(url) {
      if (url.type === 'fetch' || remoteOf(url)) return undefined;
      return stores[url.type].peek(url.publicId, url.ext);
    },
    close: async () => {
      for (const s of Object.values(stores)) s.close();
      await http.close();
    },
  };
}

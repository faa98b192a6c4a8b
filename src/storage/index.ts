/** The configured asset store: S3 for `s3://…`, else the `upload` storage folder. */
import type { Config } from '../config.ts';
import { createAssetStore } from './assets.ts';
import { createFileBlobs } from './blob-file.ts';
import { createS3Blobs } from './blob-s3.ts';
import type { AssetStore } from './types.ts';

export function createStore(config: Config): AssetStore {
  if (config.storageUrl.startsWith('s3://')) return createAssetStore(createS3Blobs(config.storageUrl, config.s3Endpoint || undefined));
  return createAssetStore(createFileBlobs(config.storageDir));
}

export type { AssetStore, AssetMeta } from './types.ts';

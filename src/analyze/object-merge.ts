/**
 * Merging object detections of two passes (the first pass at 512 px, the detail pass at
 * 853 px, subject.ts): per-class non-maximum suppression, and a detail box mostly inside a
 * first-pass box of its class is a part of that object (the closer look sees a dog's head as a
 * dog) and is dropped. Pure: used by the worker and by the main thread (which merges the detail
 * pass with the first pass it already has).
 */
export interface ClassBox {
  cls: number;
  score: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

const NMS_IOU = 0.5;

function intersection(a: ClassBox, b: ClassBox): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w <= 0 || h <= 0 ? 0 : w * h;
}

function iou(a: ClassBox, b: ClassBox): number {
  const i = intersection(a, b);
  return i === 0 ? 0 : i / (a.width * a.height + b.width * b.height - i);
}

export function mergeDetections<T extends ClassBox>(whole: readonly T[], detail: readonly T[]): T[] {
  const detailKept = detail.filter((t) => !whole.some((w) => w.cls === t.cls && intersection(w, t) / (t.width * t.height) > 0.6));
  const all = [...whole, ...detailKept].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const b of all) if (kept.every((k) => k.cls !== b.cls || iou(k, b) <= NMS_IOU)) kept.push(b);
  return kept;
}

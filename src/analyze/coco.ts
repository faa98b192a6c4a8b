/**
 * The 80 COCO classes of the object detector (CenterNet's class order), the names a URL may use
 * for them, and the category names that stand for several.
 *
 * Names: Cloudinary's SDKs spell the VOC-era names joined (`aeroplane`, `motorbike`, `sofa`,
 * `tvmonitor`, `diningtable`, `pottedplant`); COCO's names have spaces. A URL may use the COCO
 * name with `_` or without separator (`traffic_light`, `trafficlight`, `cell_phone`,
 * `cellphone`) or the VOC name; the canonical name (cache keys, `fl_getinfo`) is COCO's with `_`.
 * Categories are COCO's supercategories (`animal`, `vehicle`, `kitchen`, `food`, …).
 * Pure data: imported by transforms/gravity.ts and by the analysis code.
 */

/** [canonical name, supercategory], in the model's class order (index = class id). */
const TABLE: ReadonlyArray<readonly [string, string]> = [
  ['person', 'person'], ['bicycle', 'vehicle'], ['car', 'vehicle'], ['motorcycle', 'vehicle'], ['airplane', 'vehicle'],
  ['bus', 'vehicle'], ['train', 'vehicle'], ['truck', 'vehicle'], ['boat', 'vehicle'], ['traffic_light', 'outdoor'],
  ['fire_hydrant', 'outdoor'], ['stop_sign', 'outdoor'], ['parking_meter', 'outdoor'], ['bench', 'outdoor'], ['bird', 'animal'],
  ['cat', 'animal'], ['dog', 'animal'], ['horse', 'animal'], ['sheep', 'animal'], ['cow', 'animal'],
  ['elephant', 'animal'], ['bear', 'animal'], ['zebra', 'animal'], ['giraffe', 'animal'], ['backpack', 'accessory'],
  ['umbrella', 'accessory'], ['handbag', 'accessory'], ['tie', 'accessory'], ['suitcase', 'accessory'], ['frisbee', 'sports'],
  ['skis', 'sports'], ['snowboard', 'sports'], ['sports_ball', 'sports'], ['kite', 'sports'], ['baseball_bat', 'sports'],
  ['baseball_glove', 'sports'], ['skateboard', 'sports'], ['surfboard', 'sports'], ['tennis_racket', 'sports'], ['bottle', 'kitchen'],
  ['wine_glass', 'kitchen'], ['cup', 'kitchen'], ['fork', 'kitchen'], ['knife', 'kitchen'], ['spoon', 'kitchen'],
  ['bowl', 'kitchen'], ['banana', 'food'], ['apple', 'food'], ['sandwich', 'food'], ['orange', 'food'],
  ['broccoli', 'food'], ['carrot', 'food'], ['hot_dog', 'food'], ['pizza', 'food'], ['donut', 'food'],
  ['cake', 'food'], ['chair', 'furniture'], ['couch', 'furniture'], ['potted_plant', 'furniture'], ['bed', 'furniture'],
  ['dining_table', 'furniture'], ['toilet', 'furniture'], ['tv', 'electronic'], ['laptop', 'electronic'], ['mouse', 'electronic'],
  ['remote', 'electronic'], ['keyboard', 'electronic'], ['cell_phone', 'electronic'], ['microwave', 'appliance'], ['oven', 'appliance'],
  ['toaster', 'appliance'], ['sink', 'appliance'], ['refrigerator', 'appliance'], ['book', 'indoor'], ['clock', 'indoor'],
  ['vase', 'indoor'], ['scissors', 'indoor'], ['teddy_bear', 'indoor'], ['hair_drier', 'indoor'], ['toothbrush', 'indoor'],
];

export const COCO_CLASSES: readonly string[] = TABLE.map(([n]) => n);

const VOC_ALIASES: Readonly<Record<string, string>> = {
  aeroplane: 'airplane', motorbike: 'motorcycle', sofa: 'couch', tvmonitor: 'tv', tv_monitor: 'tv',
  diningtable: 'dining_table', pottedplant: 'potted_plant', hair_dryer: 'hair_drier', hairdryer: 'hair_drier',
  mobile_phone: 'cell_phone', doughnut: 'donut', fridge: 'refrigerator',
};

const BY_NAME = new Map<string, readonly number[]>();
for (const [i, [name, cat]] of TABLE.entries()) {
  BY_NAME.set(name, [i]);
  BY_NAME.set(name.replace(/_/g, ''), [i]);
  if (cat !== name) BY_NAME.set(cat, [...(BY_NAME.get(cat) ?? []), i]);
}
for (const [alias, name] of Object.entries(VOC_ALIASES)) BY_NAME.set(alias, BY_NAME.get(name)!);

/** Canonical name of a URL's class or category name, or undefined when it names none. */
export function canonicalObjectName(name: string): string | undefined {
  if (!BY_NAME.has(name)) return undefined;
  const alias = VOC_ALIASES[name];
  if (alias) return alias;
  const ids = BY_NAME.get(name)!;
  return ids.length > 1 ? name : TABLE[ids[0]][0];
}

/** Class ids a (canonical or alias) class or category name stands for. */
export function objectClassIds(name: string): readonly number[] {
  return BY_NAME.get(name) ?? [];
}

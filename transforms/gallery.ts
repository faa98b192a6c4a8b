/**
 * The effects gallery's content (served by src/routes/gallery.ts as GET /gallery), generated
 * from the registry: every effect of every family (transforms/effects/index.ts) with each of
 * its EffectDef `examples`, then every layer option of transforms/layer.ts LAYER_EXAMPLES. An
 * entry is a whole transformation on one of the bundled samples; the route adds the sizing and
 * the sample's public id. Nothing here renders: adding an effect with its examples adds it here.
 */
import { EFFECT_FAMILIES, type EffectExample, type GallerySample } from './effects/index.ts';
import { LAYER_EXAMPLES } from './layer.ts';

export type { GallerySample };

export interface GalleryEntry {
  /** What the entry shows: an effect's name (`red`) or a layer option (`fl_tiled`). */
  readonly name: string;
  /** `e_<name>[:<args>]` for effects, the option itself for layer options. */
  readonly label: string;
  readonly doc: string;
  /** The transformation shown (one or more components, without the sample's sizing). */
  readonly transformation: string;
  readonly sample: GallerySample;
}

export interface GallerySection {
  readonly title: string;
  /** The file whose head holds the argument table. */
  readonly file: string;
  readonly kind: 'effect' | 'layer';
  readonly entries: readonly GalleryEntry[];
}

function effectEntry(name: string, ex: EffectExample): { label: string; transformation: string; sample: GallerySample } {
  const spec = typeof ex === 'string' ? { args: ex } : ex;
  const args = spec.args ?? '';
  const token = `e_${name}${args ? `:${args}` : ''}`;
  return {
    // a plain example is labelled with its token (`e_art:zorro`), a whole transformation by the name
    label: spec.transformation ? `e_${name}` : token,
    transformation: spec.transformation ?? token,
    sample: spec.sample ?? 'photo',
  };
}

const TITLES: Readonly<Record<string, string>> = {
  'colour.ts': 'Colour', 'filter.ts': 'Filters', 'faces.ts': 'Faces', 'tone.ts': 'Automatic tone',
  'art.ts': 'Art filters', 'select.ts': 'Selective colour and opacity', 'colorblind.ts': 'Colour blindness',
  'region.ts': 'Regions', 'shape.ts': 'Shape', 'texture.ts': 'Texture', 'vectorize.ts': 'Vectorize',
  'blend.ts': 'Layer blend modes', 'bgremoval.ts': 'Background removal',
};

/** The gallery's sections, in registry order, effects by name within a family. */
export function gallerySections(): GallerySection[] {
  const sections: GallerySection[] = EFFECT_FAMILIES.map((family) => ({
    title: TITLES[family.file] ?? family.file.replace(/\.ts$/, ''),
    file: `transforms/effects/${family.file}`,
    kind: 'effect' as const,
    entries: Object.keys(family.effects).sort().flatMap((name) => {
      const def = family.effects[name];
      return def.examples.map((ex) => ({ name, doc: def.doc, ...effectEntry(name, ex) }));
    }),
  }));
  sections.push({
    title: 'Layer options',
    file: 'transforms/layer.ts',
    kind: 'layer',
    entries: LAYER_EXAMPLES.map((l) => ({ name: l.name, label: l.name, doc: l.doc, transformation: l.transformation, sample: l.sample ?? 'photo' })),
  });
  return sections;
}

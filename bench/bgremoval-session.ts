/**
 * onnxruntime session options for the background removal model, measured without the server:
 * `npx tsx bench/bgremoval-session.ts <small|medium> <variant>` loads the model as the model
 * process does (bgremoval-child.ts; only the model files, through modelDir()) with the variant's
 * options, runs three 1024x1024 inferences on images/astronaut.png and prints the load time and,
 * per inference, wall time and CPU time (user + system; on a shared machine the CPU time is the
 * figure to compare). Variants: base (2 threads, the shipped options but interOp left default),
 * inter1, intra1 (one thread), parallel, extended, nospin, arena. BENCHMARKS.md "Background removal".
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import { modelDir, MODEL_SIDE } from '../src/analyze/bgremoval-protocol.ts';

const MODEL = process.argv[2] ?? 'small';
const variant = process.argv[3] ?? 'base';
const common = { graphOptimizationLevel: 'all', executionMode: 'sequential', enableCpuMemArena: false, intraOpNumThreads: 2 } as const;
const noSpin = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } };
const VARIANTS: Record<string, ort.InferenceSession.SessionOptions> = {
  base: { ...common },
  inter1: { ...common, interOpNumThreads: 1 },
  intra1: { ...common, intraOpNumThreads: 1, interOpNumThreads: 1 },
  parallel: { ...common, executionMode: 'parallel', interOpNumThreads: 1 },
  extended: { ...common, graphOptimizationLevel: 'extended', interOpNumThreads: 1 },
  nospin: { ...common, interOpNumThreads: 1, extra: noSpin },
  arena: { ...common, enableCpuMemArena: true, interOpNumThreads: 1 },
};
if (!VARIANTS[variant]) throw new Error(`variant: one of ${Object.keys(VARIANTS).join(', ')}`);

const dist = modelDir();
const res = JSON.parse(fs.readFileSync(path.join(dist, 'resources.json'), 'utf8')) as Record<string, { chunks: { hash: string }[] }>;
const entry = res[`/models/${MODEL}`];
if (!entry) throw new Error(`no /models/${MODEL}`);
const bytes = Buffer.concat(entry.chunks.map((c) => fs.readFileSync(path.join(dist, c.hash))));
const t0 = performance.now();
const session = await ort.InferenceSession.create(bytes, VARIANTS[variant]);
const load = performance.now() - t0;
const here = path.dirname(new URL(import.meta.url).pathname);
const rgb = await sharp(path.join(here, '../images/astronaut.png')).resize(MODEL_SIDE, MODEL_SIDE, { fit: 'fill' }).removeAlpha().raw().toBuffer();
const N = MODEL_SIDE * MODEL_SIDE;
const input = new Float32Array(3 * N);
for (let k = 0, j = 0; j < N; k += 3, j++) {
  input[j] = (rgb[k] - 128) / 256;
  input[j + N] = (rgb[k + 1] - 128) / 256;
  input[j + 2 * N] = (rgb[k + 2] - 128) / 256;
}
const wall: number[] = [], cpu: number[] = [];
for (let r = 0; r < 3; r++) {
  const t = performance.now();
  const c = process.cpuUsage();
  await session.run({ input: new ort.Tensor('float32', input, [1, 3, MODEL_SIDE, MODEL_SIDE]) }, ['output']);
  wall.push(performance.now() - t);
  const d = process.cpuUsage(c);
  cpu.push((d.user + d.system) / 1000);
}
const ms = (a: number[]) => a.map((v) => v.toFixed(0)).join(' / ');
console.log(`${MODEL} ${variant}: load ${load.toFixed(0)} ms; inferences wall ${ms(wall)} ms, CPU ${ms(cpu)} ms; ` +
  `load average ${os.loadavg()[0].toFixed(2)}; max RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);

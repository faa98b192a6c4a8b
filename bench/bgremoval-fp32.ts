/**
 * ISNet `medium` as shipped (fp16) against its fp32 rewrite (src/analyze/onnx-fp32.ts, what the
 * model process loads): runs both versions three times on
 * images/astronaut.png and prints load time, wall and CPU time per inference and how far the
 * two masks differ. `npx tsx bench/bgremoval-fp32.ts [threads]`. Reads only the model files
 * (modelBytes()), as the model process does. Results: BENCHMARKS.md "Background removal".
 */
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import { modelBytes, MODEL_SIDE } from '../src/analyze/bgremoval-protocol.ts';
import { counts, toFp32 } from '../src/analyze/onnx-fp32.ts';

async function timeRuns(bytes: Buffer, threads: number): Promise<{ load: number; wall: number[]; cpu: number[]; mask: Uint8Array }> {
  const t0 = performance.now();
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', executionMode: 'sequential', enableCpuMemArena: false, intraOpNumThreads: threads, interOpNumThreads: 1 });
  const load = performance.now() - t0;
  const here = path.dirname(new URL(import.meta.url).pathname);
  const rgb = await sharp(path.join(here, '../images/astronaut.png')).resize(MODEL_SIDE, MODEL_SIDE, { fit: 'fill' }).removeAlpha().raw().toBuffer();
  const N = MODEL_SIDE * MODEL_SIDE, input = new Float32Array(3 * N);
  for (let k = 0, j = 0; j < N; k += 3, j++) { input[j] = (rgb[k] - 128) / 256; input[j + N] = (rgb[k + 1] - 128) / 256; input[j + 2 * N] = (rgb[k + 2] - 128) / 256; }
  const wall: number[] = [], cpu: number[] = [];
  let p = new Float32Array(0) as Float32Array<ArrayBufferLike>;
  for (let r = 0; r < 3; r++) {
    const t = performance.now(), c = process.cpuUsage();
    const o = await s.run({ input: new ort.Tensor('float32', input, [1, 3, MODEL_SIDE, MODEL_SIDE]) }, ['output']);
    wall.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
    p = o.output.data as Float32Array;
  }
  await s.release();
  const mask = new Uint8Array(N);
  for (let j = 0; j < N; j++) mask[j] = Math.max(0, Math.min(255, Math.round(p[j] * 255)));
  return { load, wall, cpu, mask };
}

async function main(): Promise<void> {
  const threads = Number(process.argv[2] ?? 2);
  const fp16 = modelBytes('medium');
  const t0 = performance.now();
  const fp32 = toFp32(fp16);
  console.log(`converted in ${(performance.now() - t0).toFixed(0)} ms: ${counts.tensors} tensors, ${counts.casts} casts, ${counts.types} value types; ${fp16.length} -> ${fp32.length} bytes`);
  const ms = (a: number[]) => a.map((v) => v.toFixed(0)).join(' / ');
  const runs: Record<string, Awaited<ReturnType<typeof timeRuns>>> = {};
  for (const [name, bytes] of [['fp32', fp32], ['fp16', fp16]] as const) {
    const r = runs[name] = await timeRuns(bytes, threads);
    console.log(`medium ${name}, ${threads} threads: load ${r.load.toFixed(0)} ms; wall ${ms(r.wall)} ms; CPU ${ms(r.cpu)} ms; load average ${os.loadavg()[0].toFixed(2)}`);
  }
  const a = runs.fp32!.mask, b = runs.fp16!.mask;
  let inter = 0, union = 0, maxDiff = 0;
  for (let j = 0; j < a.length; j++) {
    const x = a[j]! >= 128, y = b[j]! >= 128;
    if (x && y) inter++;
    if (x || y) union++;
    maxDiff = Math.max(maxDiff, Math.abs(a[j]! - b[j]!));
  }
  console.log(`masks: IoU ${(inter / union).toFixed(4)} between fp32 and fp16, largest difference ${maxDiff}/255`);
}

if (process.argv[1] && new URL(import.meta.url).pathname === path.resolve(process.argv[1])) await main();

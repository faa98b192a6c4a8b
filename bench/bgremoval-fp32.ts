/**
 * Experiment (not used by the server): ISNet `medium` ships as fp16, which onnxruntime's CPU
 * provider runs through inserted casts. This rewrites the ONNX file into fp32 (fp16 initializers
 * and Constant tensors widened, Cast-to-fp16 turned into Cast-to-fp32, fp16 value types made
 * fp32) with a minimal protobuf walker, then runs both versions three times on
 * images/astronaut.png and prints load time, wall and CPU time per inference and how far the
 * two masks differ. `npx tsx bench/bgremoval-fp32.ts [threads]`. Reads only the model files
 * (modelDir()), as the model process does. Results: BENCHMARKS.md "Background removal".
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import { modelDir, MODEL_SIDE } from '../src/analyze/bgremoval-protocol.ts';

type Field = { no: number; wt: number; v: bigint | Buffer };
function readVarint(b: Buffer, p: number): [bigint, number] {
  let r = 0n, s = 0n;
  for (;;) { const x = b[p++]; r |= BigInt(x & 0x7f) << s; if (!(x & 0x80)) return [r, p]; s += 7n; }
}
function parse(b: Buffer): Field[] {
  const out: Field[] = [];
  let p = 0;
  while (p < b.length) {
    const [key, p1] = readVarint(b, p); p = p1;
    const no = Number(key >> 3n), wt = Number(key & 7n);
    if (wt === 0) { const [v, p2] = readVarint(b, p); p = p2; out.push({ no, wt, v }); }
    else if (wt === 2) { const [l, p2] = readVarint(b, p); const n = Number(l); out.push({ no, wt, v: b.subarray(p2, p2 + n) }); p = p2 + n; }
    else if (wt === 5) { out.push({ no, wt, v: b.subarray(p, p + 4) }); p += 4; }
    else if (wt === 1) { out.push({ no, wt, v: b.subarray(p, p + 8) }); p += 8; }
    else throw new Error(`wire type ${wt}`);
  }
  return out;
}
function varint(v: bigint): Buffer { const a: number[] = []; do { let x = Number(v & 0x7fn); v >>= 7n; if (v) x |= 0x80; a.push(x); } while (v); return Buffer.from(a); }
function ser(fields: Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    parts.push(varint(BigInt((f.no << 3) | f.wt)));
    if (f.wt === 0) parts.push(varint(f.v as bigint));
    else if (f.wt === 2) { parts.push(varint(BigInt((f.v as Buffer).length))); parts.push(f.v as Buffer); }
    else parts.push(f.v as Buffer);
  }
  return Buffer.concat(parts);
}
function half(h: number): number {
  const s = (h & 0x8000) ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
const counts = { tensors: 0, casts: 0, types: 0 };
/** A TensorProto: fp16 (data_type 10) raw_data or int32_data made fp32 (1). */
function tensor(b: Buffer): Buffer {
  const f = parse(b);
  const dt = f.find((x) => x.no === 2);
  if (!dt || dt.v !== 10n) return b;
  counts.tensors++;
  dt.v = 1n;
  const out: Field[] = [];
  for (const x of f) {
    if (x.no === 9) { // raw_data fp16 → fp32
      const src = x.v as Buffer, n = src.length / 2, dst = Buffer.alloc(n * 4);
      for (let i = 0; i < n; i++) dst.writeFloatLE(half(src.readUInt16LE(2 * i)), 4 * i);
      out.push({ no: 9, wt: 2, v: dst });
    } else if (x.no === 5) { // int32_data (packed) holding fp16 bits → float_data (4)
      const vals: number[] = []; let p = 0; const bb = x.v as Buffer;
      if (x.wt === 2) { while (p < bb.length) { const [v, p2] = readVarint(bb, p); p = p2; vals.push(Number(v)); } } else vals.push(Number(x.v));
      const dst = Buffer.alloc(vals.length * 4); vals.forEach((v, i) => dst.writeFloatLE(half(v), 4 * i));
      out.push({ no: 4, wt: 2, v: dst });
    } else out.push(x);
  }
  return ser(out);
}
function typeProto(b: Buffer): Buffer {
  const f = parse(b);
  for (const x of f) if (x.no === 1 && x.wt === 2) {
    const tt = parse(x.v as Buffer);
    for (const y of tt) if (y.no === 1 && y.v === 10n) { y.v = 1n; counts.types++; }
    x.v = ser(tt);
  }
  return ser(f);
}
function valueInfo(b: Buffer): Buffer { const f = parse(b); for (const x of f) if (x.no === 2) x.v = typeProto(x.v as Buffer); return ser(f); }
function node(b: Buffer): Buffer {
  const f = parse(b);
  const op = f.find((x) => x.no === 4)?.v?.toString();
  for (const x of f) if (x.no === 5) {
    const a = parse(x.v as Buffer);
    const name = a.find((y) => y.no === 1)?.v?.toString();
    for (const y of a) {
      if (op === 'Cast' && name === 'to' && y.no === 3 && y.v === 10n) { y.v = 1n; counts.casts++; }
      if (y.no === 5) y.v = tensor(y.v as Buffer);
      if (y.no === 6) y.v = graph(y.v as Buffer);
    }
    x.v = ser(a);
  }
  return ser(f);
}
function graph(b: Buffer): Buffer {
  const f = parse(b);
  for (const x of f) {
    if (x.no === 1) x.v = node(x.v as Buffer);
    else if (x.no === 5) x.v = tensor(x.v as Buffer);
    else if (x.no === 11 || x.no === 12 || x.no === 13) x.v = valueInfo(x.v as Buffer);
  }
  return ser(f);
}

/** The fp16 ONNX model bytes rewritten to fp32. */
export function toFp32(model: Buffer): Buffer {
  const m = parse(model);
  for (const x of m) if (x.no === 7) x.v = graph(x.v as Buffer);
  return ser(m);
}

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
  const dist = modelDir();
  const res = JSON.parse(fs.readFileSync(path.join(dist, 'resources.json'), 'utf8')) as Record<string, { chunks: { hash: string }[] }>;
  const fp16 = Buffer.concat(res['/models/medium']!.chunks.map((c) => fs.readFileSync(path.join(dist, c.hash))));
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

/**
 * ISNet `medium` ships as fp16; onnxruntime's CPU provider has no fp16 kernels for most of its
 * operators and runs them through inserted casts. toFp32() rewrites an ONNX model's fp16 into
 * fp32 before the session is made: fp16 initializers and Constant tensors widened (a 65536-entry
 * table), Cast-to-fp16 turned into Cast-to-fp32, fp16 value types made fp32. A minimal protobuf
 * walker (ModelProto.graph 7; GraphProto node 1, initializer 5, input/output/value_info 11-13;
 * NodeProto op_type 4, attribute 5; AttributeProto name 1, i 3, t 5, g 6; TensorProto data_type 2,
 * int32_data 5, float_data 4, raw_data 9; TypeProto tensor_type 1, elem_type 1). Same mask (at
 * most 1/255 apart), ~1/3 less CPU per inference, 0.5 s to convert, twice the weights' memory
 * (bench/bgremoval-fp32.ts, BENCHMARKS.md). Used by the model process (bgremoval-child.ts).
 */

interface Field { no: number; wt: number; v: bigint | Buffer }
function readVarint(b: Buffer, p: number): [bigint, number] {
  let r = 0n, s = 0n;
  for (;;) { const x = b[p++]; r |= BigInt(x & 0x7f) << s; if (!(x & 0x80)) return [r, p]; s += 7n; }
}
export function parse(b: Buffer): Field[] {
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
export function ser(fields: Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    parts.push(varint(BigInt((f.no << 3) | f.wt)));
    if (f.wt === 0) parts.push(varint(f.v as bigint));
    else if (f.wt === 2) { parts.push(varint(BigInt((f.v as Buffer).length))); parts.push(f.v as Buffer); }
    else parts.push(f.v as Buffer);
  }
  return Buffer.concat(parts);
}
/** Every fp16 bit pattern as fp32 (built once). */
export const HALF = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    t[h] = e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();
/** What the last toFp32() changed. */
export const counts = { tensors: 0, casts: 0, types: 0 };
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
      const src = x.v as Buffer, n = src.length / 2, dst = new Float32Array(n);
      for (let i = 0; i < n; i++) dst[i] = HALF[src[2 * i]! | (src[2 * i + 1]! << 8)]!;
      // little-endian, as ONNX stores raw_data (and as Float32Array is on x86 and ARM)
      out.push({ no: 9, wt: 2, v: Buffer.from(dst.buffer) });
    } else if (x.no === 5) { // int32_data (packed) holding fp16 bits → float_data (4)
      const vals: number[] = []; let p = 0; const bb = x.v as Buffer;
      if (x.wt === 2) { while (p < bb.length) { const [v, p2] = readVarint(bb, p); p = p2; vals.push(Number(v)); } } else vals.push(Number(x.v));
      const dst = Buffer.alloc(vals.length * 4); vals.forEach((v, i) => dst.writeFloatLE(HALF[v & 0xffff]!, 4 * i));
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

/** The fp16 ONNX model bytes rewritten to fp32 (a model without fp16 comes back unchanged in content). */
export function toFp32(model: Buffer): Buffer {
  counts.tensors = counts.casts = counts.types = 0;
  const m = parse(model);
  for (const x of m) if (x.no === 7) x.v = graph(x.v as Buffer);
  return ser(m);
}

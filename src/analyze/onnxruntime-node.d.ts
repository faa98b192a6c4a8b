// onnxruntime-node 1.17.3 names dist/index.d.ts as its types but ships none; its API is
// onnxruntime-common's (which it re-exports) plus the native backend.
declare module 'onnxruntime-node' {
  export * from 'onnxruntime-common';
}

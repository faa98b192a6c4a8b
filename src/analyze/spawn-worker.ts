/**
 * Start a worker thread from a module next to the caller: its .ts source under tsx/tap, its
 * compiled .js after `npm run build`. tsx's loader hooks are not inherited by worker threads on
 * Node 20, so under tsx the worker registers them itself before importing the TypeScript source.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';

/**
 * V8 limits of an analysis worker (faces, metric and saliency). Their bulk data lives outside
 * the V8 heap (typed arrays' backing stores, the wasm memory), so a small young generation
 * costs little GC time and keeps the thread's heap from growing to the main thread's default
 * (up to 3 × 16 MB of new space after a burst) and staying there.
 */
export const ANALYSIS_WORKER_LIMITS: ResourceLimits = Object.freeze({ maxYoungGenerationSizeMb: 8 });

export function spawnModuleWorker(callerUrl: string, name: string, workerData: unknown, resourceLimits?: ResourceLimits): Worker {
  const limits = resourceLimits ? { resourceLimits } : {};
  if (callerUrl.endsWith('.ts')) {
    const tsxApi = import.meta.resolve('tsx/esm/api');
    const source = new URL(`./${name}.ts`, callerUrl).href;
    const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(source)}); })`;
    return new Worker(boot, { eval: true, workerData, ...limits });
  }
  return new Worker(new URL(`./${name}.js`, callerUrl), { workerData, ...limits });
}

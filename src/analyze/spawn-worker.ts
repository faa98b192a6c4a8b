/**
 * Start a worker thread from a module next to the caller: its .ts source under tsx/tap, its
 * compiled .js after `npm run build`. tsx's loader hooks are not inherited by worker threads on
 * Node 20, so under tsx the worker registers them itself before importing the TypeScript source.
 */
import { Worker } from 'node:worker_threads';

export function spawnModuleWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  if (callerUrl.endsWith('.ts')) {
    const tsxApi = import.meta.resolve('tsx/esm/api');
    const source = new URL(`./${name}.ts`, callerUrl).href;
    const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(source)}); })`;
    return new Worker(boot, { eval: true, workerData });
  }
  return new Worker(new URL(`./${name}.js`, callerUrl), { workerData });
}

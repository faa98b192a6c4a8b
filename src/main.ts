/** Entry point: config → buildServer → listen; SIGTERM/SIGINT → graceful close. */
import { loadConfig, ConfigError } from './config.ts';
import { buildServer } from './server.ts';
import { configureFaces } from './analyze/faces.ts';
import { configureObjects } from './analyze/objects.ts';
import sharp from 'sharp';

// No libvips operation cache (sharp's default keeps up to 100 operations and 50 MB): a CDN's
// renders rarely repeat an operation on the same input (the result cache answers repeats), and
// the cached operations keep their images' memory in the allocator. Measured with
// bench/footprint.ts: peak during 160 cold g_auto renders 572 -> 479 MB (BENCHMARKS.md).
sharp.cache(false);

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`aperture: configuration error: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const app = await buildServer(config, { log: { info: (m) => console.log(m), warn: (m) => console.warn(m) } });
  // The face detector worker starts on the first request that needs it and stops when idle.
  configureFaces({ idleMs: config.facesIdleMs, log: (m) => app.log.warn(m) });
  // Likewise the object detector (none at all with APERTURE_OBJECTS=0: object gravities are refused).
  configureObjects({ idleMs: config.objectsIdleMs, log: (m) => app.log.warn(m) });
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info(`${signal} received, draining`);
    const force = setTimeout(() => {
      app.log.warn('drain timed out, exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  await app.listen({ port: config.port, host: config.host });
}

void main();

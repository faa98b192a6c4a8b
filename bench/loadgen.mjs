/**
 * HTTP load generator for bench/run.ts, in a process of its own so that the server under test
 * does not share its event loop or heap with the client. It waits for commands over IPC:
 *   { origin, paths, connections, seconds }  →  { n, bad, bytes, seconds }
 * Each connection sends one request at a time (keep-alive, no pipelining), cycling through
 * `paths` from a shared cursor, until `seconds` have passed; requests in flight then finish
 * and are counted.
 */
import { Pool } from 'undici';

process.on('message', async (cmd) => {
  if (cmd === 'exit') process.exit(0);
  const { origin, paths, connections, seconds } = cmd;
  const pool = new Pool(origin, { connections, pipelining: 1 });
  let n = 0, bad = 0, bytes = 0, i = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  async function loop() {
    while (performance.now() < until) {
      const path = paths[i++ % paths.length];
      const r = await pool.request({ path, method: 'GET' });
      const b = Buffer.from(await r.body.arrayBuffer());
      if (r.statusCode !== 200) bad++;
      n++;
      bytes += b.length;
    }
  }
  try {
    await Promise.all(Array.from({ length: connections }, loop));
    const elapsed = (performance.now() - t0) / 1000;
    await pool.close();
    process.send({ n, bad, bytes, seconds: elapsed });
  } catch (e) {
    process.send({ error: String((e && e.stack) || e) });
  }
});
process.send('ready');

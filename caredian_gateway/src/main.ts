// Entry point: load configuration (add-on options or environment), start, stop cleanly on signals.
import { ConfigError, loadConfig } from './config/load.js';
import { createLogger } from './core/logger.js';
import { WORKER_ENV } from './cluster/relay-protocol.js';
import { deviceWorkerCount } from './cluster/worker-count.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const p of e.problems) process.stderr.write(`config error: ${p}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger({ level: config.log_level, json: config.log_json });
  const relaySocket = process.env[WORKER_ENV];
  if (relaySocket && process.send) {
    // Loaded on demand: a worker never loads the model runtime, Express or the alerting modules.
    const { runDeviceWorker } = await import('./cluster/device-worker.js');
    await runDeviceWorker(config, log.child({ worker: process.pid }), relaySocket, Number(process.env.CAREDIAN_DEVICE_WORKERS ?? 1));
    return;
  }
  const { Gateway } = await import('./gateway.js');
  const gw = await Gateway.create(config, log, { deviceWorkers: deviceWorkerCount(config.ingest_workers) });
  await gw.start();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    gw.stop().then(
      () => {
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

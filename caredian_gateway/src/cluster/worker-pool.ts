// The event log owner's side of multi-process ingest: forks the device-port workers, answers
// their ingest calls with the device endpoints' own handlers (validation, ownership, caps,
// decision, durable append: the reply leaves only after the record is on disk), and replaces a
// worker that dies. The owner serves the device app on a Unix socket for what the workers relay.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import type { AuthInfo } from '../auth/bearer.js';
import type { AccessClaims } from '../auth/tokens.js';
import { errorResult, type Endpoint, type EndpointResult } from '../device-api/endpoint.js';
import type { MetricsJson } from '../metrics/registry.js';
import { isIngestCall, isListening, isMetricsReply, SLOT_ENV, WORKER_ENV, type IngestCall, type IngestReply, type MetricsRequest } from './relay-protocol.js';

const METRICS_TIMEOUT_MS = 1000;

const RESTART_DELAY_MS = 1000;
const START_TIMEOUT_MS = 30_000;

export interface WorkerPoolOptions {
  count: number;
  socketPath: string;
  endpoints: Endpoint[];
  log: Logger;
}

export class WorkerPool implements GatewayModule {
  readonly name = 'device_workers';
  private readonly routes: Map<string, Endpoint>;
  private readonly workers = new Set<Worker>();
  private readonly slots = new Map<Worker, number>();
  private metricsId = 0;
  private stopping = false;
  private restarts = 0;
  port = 0;

  constructor(private readonly o: WorkerPoolOptions) {
    this.routes = new Map(o.endpoints.map((e) => [e.path, e]));
  }

  /** Where the owner serves the device app for what the workers relay. */
  get socketPath(): string {
    return this.o.socketPath;
  }

  async start(): Promise<void> {
    // Workers accept from the shared socket themselves: with the default round-robin the primary
    // accepts every connection first and holds it until a worker takes it, past each worker's
    // connection caps (measured: 3,248 idle connections from one address held against a cap of 512).
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ serialization: 'advanced' });
    await Promise.all(Array.from({ length: this.o.count }, (_, i) => this.fork(i + 1)));
    this.o.log.info({ workers: this.o.count, port: this.port }, 'device port served by worker processes');
  }

  private fork(slot: number): Promise<void> {
    const w = cluster.fork({ [WORKER_ENV]: this.o.socketPath, [SLOT_ENV]: String(slot), CAREDIAN_DEVICE_WORKERS: String(this.o.count) });
    this.workers.add(w);
    this.slots.set(w, slot);
    // A send to a worker that has just died fails here, not as an exception: its device retries.
    w.on('error', (err) => this.o.log.warn({ pid: w.process.pid, reason: err.message }, 'a device-port worker could not be reached'));
    w.on('message', (m: unknown) => {
      if (isIngestCall(m)) this.serve(w, m);
    });
    w.on('exit', (code, signal) => {
      this.workers.delete(w);
      this.slots.delete(w);
      if (this.stopping) return;
      this.restarts++;
      this.o.log.error({ pid: w.process.pid, code, signal }, 'a device-port worker died; starting another');
      setTimeout(() => {
        if (!this.stopping) this.fork(slot).catch((err: unknown) => this.o.log.error({ err }, 'could not start a device-port worker'));
      }, RESTART_DELAY_MS).unref();
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('a device-port worker did not start listening')), START_TIMEOUT_MS);
      const onMessage = (m: unknown) => {
        if (!isListening(m)) return;
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('exit', onExit);
        this.port = m.port;
        resolve();
      };
      const onExit = (code: number) => {
        clearTimeout(timer);
        reject(new Error(`a device-port worker exited with code ${code} before listening`));
      };
      w.on('message', onMessage);
      w.once('exit', onExit);
    });
  }

  private serve(w: Worker, m: IngestCall): void {
    const ep = this.routes.get(m.path);
    const reply = (result: EndpointResult) => {
      // A worker that died meanwhile cannot pass the answer on; its device retries.
      if (!w.isConnected()) return;
      const msg: IngestReply = { t: 'ingest-reply', id: m.id, result };
      w.send(msg);
    };
    if (!ep) return reply(errorResult(404, 'not_found', 'no such route'));
    const auth: AuthInfo = { clientId: m.clientId, scopes: new Set([ep.scope]), claims: { client_id: m.clientId } as AccessClaims };
    ep.handle(m.body, auth, m.arrivedAtMs).then(reply, (err: unknown) => {
      this.o.log.error({ err, url: m.path }, 'unhandled error');
      reply(errorResult(500, 'server_error', 'internal error'));
    });
  }

  /** Every connected worker's process metrics; one that does not answer within a second is left out. */
  metrics(): Promise<MetricsJson[]> {
    const id = ++this.metricsId;
    return Promise.all(
      [...this.workers].filter((w) => w.isConnected()).map(
        (w) =>
          new Promise<MetricsJson | undefined>((resolve) => {
            const done = (m?: MetricsJson) => {
              clearTimeout(timer);
              w.off('message', onMessage);
              resolve(m);
            };
            const onMessage = (m: unknown) => {
              if (isMetricsReply(m) && m.id === id) done(m.metrics);
            };
            const timer = setTimeout(() => done(), METRICS_TIMEOUT_MS);
            w.on('message', onMessage);
            const req: MetricsRequest = { t: 'metrics-req', id };
            w.send(req);
          }),
      ),
    ).then((all) => all.filter((m): m is MetricsJson => m !== undefined));
  }

  status(): ModuleStatus {
    return { ready: this.workers.size > 0, detail: `${this.workers.size} of ${this.o.count} device-port workers`, workers: this.workers.size, pids: [...this.workers].map((w) => w.process.pid), restarts: this.restarts };
  }

  /** Workers finish what they are serving (their answers still need us), then exit. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.workers].map(
        (w) =>
          new Promise<void>((resolve) => {
            const kill = setTimeout(() => w.process.kill('SIGKILL'), 5000);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            w.disconnect();
          }),
      ),
    );
  }
}

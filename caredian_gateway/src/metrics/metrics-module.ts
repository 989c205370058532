// GET /metrics on the admin listener, in the Prometheus text format, behind the admin listener's
// authentication (standalone: Authorization: Bearer <ADMIN_TOKEN>; add-on: ingress) or, when set,
// Authorization: Bearer <metrics_token> (admin-auth.ts: scrapeAuth). The ingest
// core and the event store tell it of each outcome and commit; the rest is read when scraped.
import { Registry } from 'prom-client';
import type { AdminRootRoute, GatewayModule } from '../core/module.js';
import type { IngestObserver, RefusalObserver } from '../ingest/outcomes.js';
import { IngestMetrics } from './ingest-metrics.js';
import { ModelBatchMetrics } from './model-batches.js';
import { aggregateMetrics, exportRegistry, METRICS_CONTENT_TYPE, processMetrics, processMetricsJson, type MetricsJson } from './registry.js';
import { stateMetrics, type StateSources } from './state-metrics.js';

export interface MetricsSources extends StateSources {
  ingest: { observe(o: IngestObserver): void };
  store: StateSources['store'] & { observeCommits(fn: (seconds: number) => void): void };
}

export class MetricsModule implements GatewayModule {
  readonly name = 'metrics';
  /** This gateway's own metrics (the process metrics are shared by the process: registry.ts). */
  readonly registry = new Registry();
  private others?: () => Promise<MetricsJson[]>;
  private readonly batches: ModelBatchMetrics;
  /** For the device API's fast path: a request it refused before the ingest core (token, size, type, JSON). */
  readonly onHttpRefused: RefusalObserver;

  constructor(s: MetricsSources) {
    processMetrics();
    const ingest = new IngestMetrics(this.registry);
    this.onHttpRefused = ingest.onHttpRefused;
    this.batches = new ModelBatchMetrics(this.registry);
    s.ingest.observe(ingest.onOutcome);
    s.store.observeCommits(ingest.onCommit);
    stateMetrics(this.registry, s);
  }

  async start(): Promise<void> {
    this.batches.start();
  }

  async stop(): Promise<void> {
    this.batches.stop();
  }

  /**
   * Adds other processes' metrics to every scrape (the device-port workers: each answers with
   * processMetricsJson()). Each process must be named (nameProcess) so their series stay apart.
   */
  includeProcesses(others: () => Promise<MetricsJson[]>): void {
    this.others = others;
  }

  async render(): Promise<string> {
    if (!this.others) return exportRegistry(this.registry).metrics();
    return aggregateMetrics([await processMetricsJson(this.registry), ...(await this.others())]);
  }

  adminRootRoutes(): AdminRootRoute[] {
    return [
      {
        path: '/metrics',
        scrape: true,
        handle: async (_req, res) => {
          const text = await this.render();
          res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Cache-Control': 'no-store' });
          res.end(text);
        },
      },
    ];
  }
}

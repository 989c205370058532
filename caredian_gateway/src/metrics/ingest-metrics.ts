// The metrics that must be observed as things happen: every ingest outcome (one counter and one
// histogram call per request), every device request HTTP refuses before the ingest core (one
// counter call) and every durable append (one histogram call). Everything else is
// read when scraped (state-metrics.ts).
import { Counter, Histogram, Registry } from 'prom-client';
import type { IngestObserver, Outcome, RefusalObserver } from '../ingest/outcomes.js';

/** Seconds: fine below the 10 ms ingest target, coarse up to the 1 s decision target. */
const INGEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const COMMIT_BUCKETS = [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1];

/** Why an outcome refused the request: the HTTP error code the device is sent, none when accepted. */
export function refusalReason(o: Outcome<unknown>): string | undefined {
  switch (o.kind) {
    case 'stored':
    case 'duplicate':
      return undefined;
    case 'invalid':
      return 'invalid_request';
    case 'conflict':
      return 'event_id_conflict';
    case 'backpressure':
      return 'backlog_full';
    default:
      return o.error;
  }
}

type RequestLabels = 'input' | 'kind' | 'outcome' | 'reason';

function ingestRequests(registry: Registry): Counter<RequestLabels> {
  return new Counter({ name: 'caredian_ingest_requests_total', help: 'Fall reports, heartbeats and IMU chunks answered, by input, kind and outcome (reason: why it was refused; outcome refused: by HTTP before the ingest core)', labelNames: ['input', 'kind', 'outcome', 'reason'], registers: [registry] });
}

/** Counts those refusals as outcome `refused`: one map lookup and one add (the label sets are few and fixed by the code). */
function refusalCounter(requests: Counter<RequestLabels>): RefusalObserver {
  const series = new Map<string, Counter.Internal>();
  return (kind, reason) => {
    const key = `${kind} ${reason}`;
    let c = series.get(key);
    if (!c) series.set(key, (c = requests.labels({ input: 'http', kind, outcome: 'refused', reason })));
    c.inc();
  };
}

/** What a device-port worker counts itself (the refusals it answers); the owner counts the rest. */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly onHttpRefused: RefusalObserver = refusalCounter(ingestRequests(this.registry));
}

export class IngestMetrics {
  private readonly requests: Counter<RequestLabels>;
  private readonly duration: Histogram<'input' | 'kind' | 'result'>;
  private readonly commit: Histogram;
  private readonly imuFalls: Counter<'source'>;
  readonly onHttpRefused: RefusalObserver;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = ingestRequests(registry);
    this.onHttpRefused = refusalCounter(this.requests);
    this.duration = new Histogram({ name: 'caredian_ingest_duration_seconds', help: 'From the request arriving (HTTP: before the token check; MQTT, Home Assistant: at the ingest core) to its outcome', labelNames: ['input', 'kind', 'result'], buckets: INGEST_BUCKETS, registers });
    this.commit = new Histogram({ name: 'caredian_event_log_commit_duration_seconds', help: 'From a durable append to the event log to its fsync (group commit: includes waiting for the write in progress)', buckets: COMMIT_BUCKETS, registers });
    this.imuFalls = new Counter({ name: 'caredian_imu_falls_decided_total', help: 'Falls decided from IMU streams and stored, by who decided (model, sensor, both)', labelNames: ['source'], registers });
  }

  /** The label children of each (input, kind, outcome, reason) seen: prom-client hashes a label object on every call otherwise. */
  private readonly series = new Map<string, { count: Counter.Internal; duration: Histogram.Internal<'input' | 'kind' | 'result'> }>();

  readonly onOutcome: IngestObserver = (input, kind, o, arrivedAtMs) => {
    const seconds = (performance.timeOrigin + performance.now() - arrivedAtMs) / 1000;
    const reason = refusalReason(o);
    const key = `${input} ${kind} ${o.kind} ${reason ?? ''}`;
    let s = this.series.get(key);
    if (!s) {
      s = { count: this.requests.labels(reason ? { input, kind, outcome: o.kind, reason } : { input, kind, outcome: o.kind }), duration: this.duration.labels({ input, kind, result: reason ? 'refused' : 'accepted' }) };
      this.series.set(key, s);
    }
    s.count.inc();
    s.duration.observe(Math.max(0, seconds));
    if (kind === 'imu' && o.kind === 'stored') {
      const falls = (o.value as { falls?: { source: string }[] }).falls;
      if (falls) for (const f of falls) this.imuFalls.inc({ source: f.source });
    }
  };

  readonly onCommit = (seconds: number): void => {
    this.commit.observe(seconds);
  };
}

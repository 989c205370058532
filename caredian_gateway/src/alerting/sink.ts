// The one small interface every alert delivery channel implements (Home Assistant, webhooks, ...).
// The alert service decides *what* happens to an alert; a sink only turns notices into deliveries
// and performs them. Deliveries are plain JSON: they wait in the durable outbox until done.
import type { AlertNotice, AlertView } from '../domain/alerts.js';

export interface SinkDelivery {
  kind: string;
  /** Pointless once the alert is acknowledged (a notification nobody received yet). */
  dropOnAck?: boolean;
  [k: string]: unknown;
}

export interface SinkStatus {
  /** Whether this sink can reach the people it alerts right now (as far as it knows). */
  reachable: boolean;
  detail: string;
}

export interface AlertSink {
  /** Unique among the sinks; stored with each delivery in the outbox. */
  readonly name: string;
  /** Whether deliveries can be tried now; they wait (no attempt counted) while false. */
  readonly available: boolean;
  /**
   * False for sinks that inform automations rather than people (Home Assistant entities): they do
   * not count when deciding whether anybody is alerted.
   */
  readonly reachesPeople?: boolean;
  /** The deliveries this sink owes for a notice. */
  plan(notice: AlertNotice): SinkDelivery[];
  /** Performs one delivery. Throw PermanentDeliveryError when a retry cannot help. */
  deliver(d: SinkDelivery, alert: AlertView): Promise<void>;
  status(): SinkStatus;
  /** Tells the service when the sink becomes available again, so waiting deliveries go out at once. */
  onAvailable?(fn: () => void): void;
}

/** A delivery the receiver refused for good (e.g. HTTP 400): recorded as failed, never retried. */
export class PermanentDeliveryError extends Error {}

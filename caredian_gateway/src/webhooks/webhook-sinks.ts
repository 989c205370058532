import type { Config } from '../config/schema.js';
import { WebhookSink } from './webhook-sink.js';

/** One sink per `alert_webhooks` entry (ALERT_WEBHOOKS_JSON). */
export function webhookSinks(c: Config): WebhookSink[] {
  return c.alert_webhooks.map((w, i) => new WebhookSink(w, i, c.request_timeout_sec * 1000));
}

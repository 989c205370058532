// Alerts as signed JSON POSTs to a URL of the user's (a standalone install's way to reach people:
// ntfy, a chat bot, a phone gateway, an automation platform). The body is fixed when the notice is
// queued, so every retry sends the same bytes with the same signature.
import { createHmac, randomUUID } from 'node:crypto';
import type { AlertNotice, AlertView } from '../domain/alerts.js';
import { PermanentDeliveryError, type AlertSink, type SinkDelivery, type SinkStatus } from '../alerting/sink.js';

export interface WebhookTarget {
  url: string;
  secret?: string;
}

interface Delivery extends SinkDelivery {
  kind: 'post';
  id: string;
  body: string;
}

export class WebhookSink implements AlertSink {
  readonly name: string;
  readonly available = true;
  private last?: { ok: boolean; detail: string };

  constructor(
    private readonly target: WebhookTarget,
    index: number,
    private readonly timeoutMs: number,
  ) {
    this.name = `webhook_${index + 1}`;
  }

  status(): SinkStatus {
    const where = redactedUrl(this.target.url);
    if (!this.last) return { reachable: true, detail: `${where}: nothing sent yet` };
    return { reachable: this.last.ok, detail: `${where}: ${this.last.detail}` };
  }

  plan(n: AlertNotice): SinkDelivery[] {
    // Webhooks reach people: they hear of a fall once it is alerted, not during the wearer's window.
    if (n.type === 'fall_pending' || n.type === 'fall_cancelled') return [];
    return [{ kind: 'post', id: randomUUID(), body: JSON.stringify(webhookBody(n)) } satisfies Delivery];
  }

  async deliver(raw: SinkDelivery, _a: AlertView): Promise<void> {
    const d = raw as Delivery;
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'CareDian-Gateway', 'X-CareDian-Delivery': d.id };
    if (this.target.secret) headers['X-CareDian-Signature'] = signature(d.body, this.target.secret);
    let status: number;
    try {
      const r = await fetch(this.target.url, { method: 'POST', headers, body: d.body, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'manual' });
      status = r.status;
      await r.body?.cancel();
    } catch (err) {
      const why = (err as Error).name === 'TimeoutError' ? 'timed out' : `unreachable (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message})`;
      this.last = { ok: false, detail: why };
      throw new Error(why);
    }
    if (status >= 200 && status < 300) {
      this.last = { ok: true, detail: `delivered (HTTP ${status})` };
      return;
    }
    // The receiver is up but refuses this body: a retry would be refused too, except for these.
    const retry = status === 408 || status === 429 || status >= 500;
    this.last = { ok: retry ? false : true, detail: `HTTP ${status}` };
    if (retry) throw new Error(`HTTP ${status}`);
    throw new PermanentDeliveryError(`the receiver answered HTTP ${status}`);
  }
}

/** The documented webhook body (DOCS.md, "Webhooks"). */
export function webhookBody(n: AlertNotice): Record<string, unknown> {
  const a = n.alert;
  return {
    type: n.type,
    alert_id: a.id,
    device_id: a.device_id,
    location: a.location,
    ts: Date.parse(a.time) / 1000,
    prob: a.probability,
    source: a.source,
    ...(n.type === 'fall_acknowledged' ? { acknowledged_by: a.acknowledged_by } : {}),
    ...(n.type === 'fall_acknowledged' && a.cancelled_by_wearer ? { cancelled_by_wearer: true } : {}),
    ...(a.kind === 'help' ? { kind: 'help' } : {}),
    ...(a.not_moving ? { not_moving: true } : {}),
    ...(n.type === 'fall_escalated' ? { step: n.step } : {}),
    ...(a.test ? { test: true } : {}),
  };
}

export function signature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Scheme, host and path only: query strings often carry tokens. */
function redactedUrl(u: string): string {
  const x = new URL(u);
  return `${x.protocol}//${x.host}${x.pathname}`;
}

// A device's side of the gateway's API, as firmware should do it: a client-credentials token
// fetched once and refreshed before it expires (or at once after a 401), and every request retried
// with exactly the same body (so the same event_id / t0) while the gateway cannot store it yet
// (503, 429, a network error), waiting as long as Retry-After says.
import { readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';

export interface DeviceClientOptions {
  url: string;
  clientId: string;
  clientSecret: string;
  /** PEM file of the CA that signed the gateway's certificate (https with your own CA). */
  caFile?: string;
  /** Shared between the clients of one process (many simulated devices, one connection pool). */
  dispatcher?: Dispatcher;
  maxAttempts?: number;
  /** Told of each retry (status or error, and the wait). */
  onRetry?: (what: string, waitMs: number, attempt: number) => void;
  onToken?: (expiresInSec: number, refreshed: boolean) => void;
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function dispatcherFor(o: { caFile?: string; connections?: number }): Dispatcher {
  return new Agent({ connections: o.connections ?? 16, keepAliveTimeout: 30_000, ...(o.caFile ? { connect: { ca: readFileSync(o.caFile, 'utf8') } } : {}) });
}

export class DeviceClient {
  private tok?: { value: string; refreshAtMs: number };
  private fetching?: Promise<string>;
  private readonly dispatcher: Dispatcher;
  private readonly base: string;

  constructor(private readonly o: DeviceClientOptions) {
    this.dispatcher = o.dispatcher ?? dispatcherFor({ caFile: o.caFile });
    this.base = o.url.replace(/\/+$/, '');
  }

  /** The cached token, or a new one when it is due for refresh (80 % of its lifetime, at most a minute before it expires). */
  async token(force = false): Promise<string> {
    if (!force && this.tok && Date.now() < this.tok.refreshAtMs) return this.tok.value;
    // Devices sharing this client ask once.
    this.fetching ??= this.fetchToken().finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async fetchToken(): Promise<string> {
    const refreshed = this.tok !== undefined;
    const basic = Buffer.from(`${encodeURIComponent(this.o.clientId)}:${encodeURIComponent(this.o.clientSecret)}`).toString('base64');
    const a = await this.send('/auth/cc/token', 'grant_type=client_credentials', { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded' });
    if (a.status !== 200 || typeof a.body.access_token !== 'string') {
      throw new Error(`token request failed: HTTP ${a.status} ${String(a.body.error ?? '')} ${String(a.body.error_description ?? '')}`.trim());
    }
    const ttl = Number(a.body.expires_in) || 3600;
    this.tok = { value: a.body.access_token, refreshAtMs: Date.now() + Math.min(ttl * 800, Math.max(ttl * 1000 - 60_000, ttl * 500)) };
    this.o.onToken?.(ttl, refreshed);
    return this.tok.value;
  }

  /** POSTs JSON with the bearer token; retried with the same bytes until stored or refused for good. */
  async post(path: string, body: unknown): Promise<Answer> {
    const text = JSON.stringify(body);
    let reauthorised = false;
    for (;;) {
      const t = await this.token();
      const a = await this.send(path, text, { Authorization: `Bearer ${t}`, 'Content-Type': 'application/json' });
      // An expired or revoked token: a new one, once.
      if (a.status === 401 && !reauthorised) {
        reauthorised = true;
        await this.token(true);
        continue;
      }
      return a;
    }
  }

  /** One request with retries on 429/5xx and network errors; any other answer is returned. */
  private async send(path: string, body: string, headers: Record<string, string>): Promise<Answer> {
    const max = this.o.maxAttempts ?? 8;
    for (let attempt = 1; ; attempt++) {
      let waitMs = Math.min(10_000, 500 * 2 ** (attempt - 1));
      let what: string;
      try {
        // undici's request, not fetch: a tenth of the CPU per request, which lets one process play thousands of devices.
        const r = await request(`${this.base}${path}`, { method: 'POST', body, headers, dispatcher: this.dispatcher });
        const text = await r.body.text();
        let parsed: Record<string, unknown> = {};
        try {
          parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          parsed = { error: 'not_json', error_description: text.slice(0, 200) };
        }
        if (!RETRY_STATUS.has(r.statusCode) || attempt >= max) return { status: r.statusCode, body: parsed };
        const after = Number(r.headers['retry-after']);
        if (Number.isFinite(after) && after > 0) waitMs = Math.min(60_000, after * 1000);
        what = `HTTP ${r.statusCode}${parsed.error ? ` ${String(parsed.error)}` : ''}`;
      } catch (err) {
        if (attempt >= max) throw err;
        what = (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      }
      this.o.onRetry?.(what, waitMs, attempt);
      await sleep(waitMs);
    }
  }
}

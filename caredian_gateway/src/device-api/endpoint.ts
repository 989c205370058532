// A device endpoint defined once, independent of the HTTP framework: auth scope, body limit and a
// handler from parsed JSON to a result. Served by the fast path and by Express alike.
import type { AuthInfo } from '../auth/bearer.js';
import type { Scope } from '../config/schema.js';
import type { IngestKind } from '../ingest/outcomes.js';

export interface EndpointResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface EndpointSpec {
  method: 'POST';
  path: string;
  /** What the ingest core is sent (the metrics' `kind`). */
  kind: IngestKind;
  scope: Scope;
  limitBytes: number;
}

export interface Endpoint extends EndpointSpec {
  /** `arrivedAtMs`: when the request arrived (epoch ms, fractional), for the ingest latency metric. */
  handle(body: unknown, auth: AuthInfo, arrivedAtMs?: number): Promise<EndpointResult>;
}

export function errorResult(status: number, error: string, description: string, extra: Record<string, unknown> = {}, headers?: Record<string, string>): EndpointResult {
  return { status, body: { ok: false, error, error_description: description, ...extra }, headers };
}

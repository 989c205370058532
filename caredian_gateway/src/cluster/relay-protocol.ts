// What the device-port workers and the process that owns the event log say to each other over
// the cluster IPC channel (v8 serialisation). A worker has done HTTP, the token check and JSON
// parsing; the owner validates, decides, stores durably and only then replies, so a 2xx a worker
// sends is as durable as one the owner sends itself.
import type { EndpointResult } from '../device-api/endpoint.js';
import type { MetricsJson } from '../metrics/registry.js';

export { PEER_HEADER, PROTO_HEADER } from '../http/relayed-peer.js';

/** The environment variable that makes a forked process a device-port worker, naming the owner's socket. */
export const WORKER_ENV = 'CAREDIAN_DEVICE_WORKER_SOCKET';

export interface IngestCall {
  t: 'ingest';
  id: number;
  path: string;
  clientId: string;
  body: unknown;
  /** When the worker received the request (epoch ms), for the ingest latency metric. */
  arrivedAtMs?: number;
}

export interface IngestReply {
  t: 'ingest-reply';
  id: number;
  result: EndpointResult;
}

export interface WorkerListening {
  t: 'listening';
  port: number;
}

/** The owner asks each worker for its process metrics (CPU, memory, event loop) at a scrape. */
export interface MetricsRequest {
  t: 'metrics-req';
  id: number;
}

export interface MetricsReply {
  t: 'metrics-res';
  id: number;
  metrics: MetricsJson;
}

export const isIngestCall = (m: unknown): m is IngestCall => typeof m === 'object' && m !== null && (m as IngestCall).t === 'ingest';
export const isIngestReply = (m: unknown): m is IngestReply => typeof m === 'object' && m !== null && (m as IngestReply).t === 'ingest-reply';
export const isListening = (m: unknown): m is WorkerListening => typeof m === 'object' && m !== null && (m as WorkerListening).t === 'listening';
export const isMetricsRequest = (m: unknown): m is MetricsRequest => typeof m === 'object' && m !== null && (m as MetricsRequest).t === 'metrics-req';
export const isMetricsReply = (m: unknown): m is MetricsReply => typeof m === 'object' && m !== null && (m as MetricsReply).t === 'metrics-res';

/** A worker's slot (1, 2, ...): a replacement takes the slot of the worker it replaces, and its metrics' name. */
export const SLOT_ENV = 'CAREDIAN_DEVICE_WORKER_SLOT';

// A worker's side of the ingest IPC: each call waits for the owner's reply, which comes only
// after the record is on disk. If the owner goes away the worker exits, so nothing is answered
// that the owner did not store; devices retry, and event ids make retries harmless.
import type { EndpointResult } from '../device-api/endpoint.js';
import { isIngestReply, type IngestCall } from './relay-protocol.js';

export class IngestClient {
  private nextId = 1;
  private readonly pending = new Map<number, (r: EndpointResult) => void>();

  constructor(private readonly channel: NodeJS.Process = process) {
    channel.on('message', (m: unknown) => {
      if (!isIngestReply(m)) return;
      const done = this.pending.get(m.id);
      if (!done) return;
      this.pending.delete(m.id);
      done(m.result);
    });
  }

  call(path: string, clientId: string, body: unknown, arrivedAtMs?: number): Promise<EndpointResult> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      const msg: IngestCall = { t: 'ingest', id, path, clientId, body, arrivedAtMs };
      this.channel.send!(msg);
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }
}

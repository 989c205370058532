// A device-port worker process: it serves the device port next to its siblings (node:cluster
// shares the listening socket), does HTTP, the token check and JSON parsing for the hot ingest
// routes and hands the parsed bodies to the process that owns the event log; everything else is
// relayed to that process as a stream. It holds no state of its own worth keeping.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { SigningKeys } from '../auth/signing-keys.js';
import { TokenError, TokenService, type AccessClaims } from '../auth/tokens.js';
import { DEVICE_ENDPOINTS } from '../device-api/device-endpoints.js';
import type { Endpoint } from '../device-api/endpoint.js';
import { FastPath } from '../device-api/fast-path.js';
import { closeIfBodyUnread } from '../http/close-unread.js';
import { deviceListenerLimits, deviceTls, listen } from '../http/listen.js';
import { IngestClient } from './ingest-client.js';
import { relayTo } from './relay-http.js';
import { isMetricsRequest, SLOT_ENV, type MetricsReply, type WorkerListening } from './relay-protocol.js';
import { nameProcess, processMetricsJson } from '../metrics/registry.js';
import { WorkerMetrics } from '../metrics/ingest-metrics.js';

const KEY_RELOAD_MS = 10_000;

/** Verifies like the owner; a token signed by a key rotated in since the last reload reloads the keys once. */
class WorkerTokens extends TokenService {
  constructor(
    private readonly signing: SigningKeys,
    s: ConstructorParameters<typeof TokenService>[1],
  ) {
    super(signing, s);
  }

  override async verify(token: string): Promise<AccessClaims> {
    try {
      return await super.verify(token);
    } catch (e) {
      if (!(e instanceof TokenError) || e.message !== 'no matching key' || !(await this.signing.reloadIfChanged())) throw e;
      return super.verify(token);
    }
  }
}

export async function runDeviceWorker(c: Config, log: Logger, socketPath: string, workers: number): Promise<void> {
  nameProcess(`worker-${process.env[SLOT_ENV] ?? process.pid}`);
  const own = new WorkerMetrics();
  process.on('message', (m: unknown) => {
    if (!isMetricsRequest(m)) return;
    void processMetricsJson(own.registry).then((metrics) => {
      const reply: MetricsReply = { t: 'metrics-res', id: m.id, metrics };
      if (process.connected) process.send!(reply);
    });
  });
  const keys = await SigningKeys.forConfig(c);
  const tokens = new WorkerTokens(keys, { issuer: c.jwt_iss, audience: c.jwt_aud, ttlSeconds: c.jwt_ttl_seconds });
  setInterval(() => void keys.reloadIfChanged().catch((err: unknown) => log.error({ err }, 'could not reload signing keys')), KEY_RELOAD_MS).unref();
  const ingest = new IngestClient();
  const endpoints: Endpoint[] = DEVICE_ENDPOINTS.map((s) => ({ ...s, handle: (body, auth, arrivedAtMs) => ingest.call(s.path, auth.clientId, body, arrivedAtMs) }));
  const fast = new FastPath(endpoints, tokens, log);
  // What we refuse ourselves (token, size, type, JSON) the owner never sees: we count it.
  fast.observeRefusals(own.onHttpRefused);
  const relay = relayTo(socketPath);
  // The connection caps are per worker: each takes its share of the configured total.
  const limits = deviceListenerLimits(c);
  const share = (n: number) => (n === 0 ? 0 : Math.max(1, Math.ceil(n / workers)));
  const server: Server = await listen(
    (req, res) => {
      closeIfBodyUnread(req, res);
      if (!fast.handle(req, res)) relay.handle(req, res);
    },
    { host: c.host, port: c.port, log, name: 'device', tls: deviceTls(c), limits: { ...limits, maxConnections: share(limits.maxConnections), maxConnectionsPerAddress: share(limits.maxConnectionsPerAddress) } },
  );
  const msg: WorkerListening = { t: 'listening', port: (server.address() as AddressInfo).port };
  process.send!(msg);
  // The owner disconnects us after our server has closed (cluster closes it first, answering what
  // is in flight), or it died and nothing can be made durable any more: either way, go.
  process.on('disconnect', () => {
    if (ingest.inFlight > 0) log.warn({ in_flight: ingest.inFlight }, 'the event log owner went away; unanswered requests will be retried by their devices');
    relay.close();
    log.flush();
    process.exit(0);
  });
  // s6 and the owner stop workers through the owner; a signal straight to a worker ends it at once.
  for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => process.exit(0));
}

// kill -9 of the gateway while a device publishes fall reports over MQTT (QoS 1): a message is
// acknowledged to the broker only once it is on disk, and the persistent session keeps the rest,
// so after a restart every report the broker accepted is in the event log, exactly once.
import { rmSync } from 'node:fs';
import { Mosquitto } from '../../src/devtools/mosquitto.js';
import { adminStatus, startChildGateway } from '../support/child-gateway.js';
import { tempDir, waitFor } from '../support/harness.js';
import { MqttPeer, readEventLog } from './support.js';

const GW = { username: 'addons', password: 'gateway-password-0123' };
const DEV = { username: 'radar-k', password: 'device-password-0123' };
const N = 2000;

test(`kill -9 while a device publishes ${N} QoS 1 fall reports: after a restart each is stored exactly once`, async () => {
  // The default queue of 1000 messages per client would drop reports while the gateway is away (DOCS.md says to raise it).
  const broker = await Mosquitto.create([GW, DEV], { conf: ['max_queued_messages 100000'] });
  const dataDir = tempDir('caredian-mqtt-crash-');
  const env = { DATA_DIR: dataDir, MQTT_URL: broker.url, MQTT_USERNAME: GW.username, MQTT_PASSWORD: GW.password, MQTT_INGEST: '1', DEVICES_JSON: JSON.stringify([{ device_id: 'radar-k' }]), FALL_INFERENCE_ENABLED: 'false' };
  const device = await MqttPeer.connect(broker.url, DEV);
  let gw = await startChildGateway(env);
  try {
    // The input's subscriptions (and the persistent session holding them) exist once a probe is stored.
    await waitFor(async () => {
      await device.publish('caredian/radar-k/heartbeat', { fw: 'probe' });
      return (await adminStatus(gw.adminUrl)).storage.last_seq > 0;
    }, 15_000, 'the input subscribed');

    // A steady stream (50 reports every 50 ms), so the kill lands in the middle of it.
    const accepted: string[] = [];
    const sent: Promise<unknown>[] = [];
    const publishing = (async () => {
      for (let i = 0; i < N; i++) {
        const event_id = `k-${String(i).padStart(4, '0')}`;
        sent.push(device.publish('caredian/radar-k/fall', { event: 'fall', prob: 0.9, ts: 1_765_000_000 + i / 100, event_id }).then(() => accepted.push(event_id)));
        if (i % 50 === 49) await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await waitFor(async () => (await adminStatus(gw.adminUrl)).storage.last_seq >= 500, 30_000, 'reports being stored');
    await gw.kill('SIGKILL');
    const storedBeforeKill = (await readEventLog(dataDir)).filter((e) => e.kind === 'fall').length;
    await publishing;
    await Promise.all(sent);
    expect(accepted).toHaveLength(N);
    expect(storedBeforeKill).toBeLessThan(N);

    gw = await startChildGateway(env);
    await waitFor(async () => {
      const s = await adminStatus(gw.adminUrl);
      const input = s.checks.mqtt_input as { stored: number; duplicates: number };
      return storedBeforeKill + input.stored >= N;
    }, 60_000, 'the rest delivered after the restart');
    await gw.kill('SIGTERM');

    const falls = (await readEventLog(dataDir)).filter((e) => e.kind === 'fall' && e.device_id === 'radar-k');
    const counts = new Map<string, number>();
    for (const f of falls) if (f.kind === 'fall') counts.set(f.event_id, (counts.get(f.event_id) ?? 0) + 1);
    expect(accepted.filter((id) => !counts.has(id))).toEqual([]);
    expect([...counts].filter(([, n]) => n !== 1)).toEqual([]);
    expect(falls).toHaveLength(N);
  } finally {
    await gw.kill();
    await device.close();
    await broker.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 120_000);

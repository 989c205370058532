import { HaClient } from '../../src/ha/ha-client.js';
import { createLogger } from '../../src/core/logger.js';
import { HA_TOKEN, HaStandin } from '../support/ha-standin.js';
import { LogSink, waitFor } from '../support/harness.js';

test('a connection that stops answering pings is detected and replaced', async () => {
  const ha = new HaStandin();
  await ha.start();
  const sink = new LogSink();
  const client = new HaClient({ wsUrl: `${ha.url.replace('http', 'ws')}/api/websocket`, restBase: `${ha.url}/api`, token: HA_TOKEN }, createLogger({ level: 'info', json: true }, sink), { requestTimeoutMs: 2000, pingEveryMs: 300 });
  let readies = 0;
  client.on('ready', () => readies++);
  await client.start();
  try {
    await waitFor(() => client.ready, 10_000, 'connected');
    expect(readies).toBe(1);
    ha.answerPings = false;
    await waitFor(() => sink.text.includes('did not answer a ping'), 5000, 'ping timeout noticed');
    ha.answerPings = true;
    await waitFor(() => readies >= 2 && client.ready, 10_000, 'reconnected');
    expect(client.status()).toMatchObject({ state: 'connected', detail: 'connected' });
  } finally {
    await client.stop();
    await ha.stop();
  }
});

test('without Home Assistant running, the client keeps retrying and connects when it appears', async () => {
  const ha = new HaStandin();
  await ha.start();
  const port = ha.port;
  await ha.stop();
  const client = new HaClient({ wsUrl: `ws://127.0.0.1:${port}/api/websocket`, restBase: `http://127.0.0.1:${port}/api`, token: HA_TOKEN }, createLogger({ level: 'warn', json: true }, new LogSink()), { requestTimeoutMs: 2000, backoffMaxMs: 1000 });
  await client.start();
  try {
    await waitFor(() => client.state === 'disconnected', 5000, 'first failure');
    await expect(client.callService('notify', 'x', {})).rejects.toThrow(/not connected/);
    await ha.start(port);
    await waitFor(() => client.ready, 15_000, 'connected once Home Assistant is up');
  } finally {
    await client.stop();
    await ha.stop();
  }
});

// An answer sent before a device has finished sending its body (413 at the limit, 401 for a bad
// token) must reach the device. Closing the socket while the device still writes makes the kernel
// send a reset, and the device's next write then fails with EPIPE before it has read the answer;
// the gateway ends its side and reads on for a moment instead. The race only shows with the
// device in another process than the gateway (in one process their turns are serialised), so
// these tests start the gateway as a child.
import { startChildGateway, type ChildGateway } from '../support/child-gateway.js';
import { tempDir } from '../support/harness.js';
import { postEndless } from './raw-http.js';

const ATTEMPTS = 40;

async function earlyAnswers(gw: ChildGateway, headers: Record<string, string>): Promise<string[]> {
  const port = Number(new URL(gw.url).port);
  const seen: string[] = [];
  // A few at a time: the refusal brake slows a client refused faster than 20/s (it still answers).
  for (let i = 0; i < ATTEMPTS; i += 4) {
    const batch = Array.from({ length: 4 }, () =>
      postEndless(port, '/devices/heartbeat', { 'Content-Type': 'application/json', ...headers }, { maxBytes: 8 * 1024 * 1024, waitMs: 8_000 }).then(
        (r) => `${r.status} ${r.body.error} ${r.closedByServer ? 'closed' : 'kept open'}`,
        (e: Error) => e.message.replace(/after \d+ body bytes/, 'after N body bytes'),
      ),
    );
    seen.push(...(await Promise.all(batch)));
  }
  return seen;
}

const count = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {});

describe.each([
  ['one process', {}],
  ['device-port workers', { INGEST_WORKERS: '2' }],
])('%s: an early answer reaches a device that is still sending its body', (_name, env: Record<string, string>) => {
  let gw: ChildGateway;
  beforeAll(async () => {
    gw = await startChildGateway({ ...env, DATA_DIR: tempDir('caredian-early-answer-') });
  });
  afterAll(() => gw.kill('SIGTERM'));

  test(`413 at the limit, every one of ${ATTEMPTS}, and the connection is closed`, async () => {
    const token = await gw.token('devices:write');
    expect(count(await earlyAnswers(gw, { Authorization: `Bearer ${token}` }))).toEqual({ '413 payload_too_large closed': ATTEMPTS });
  }, 90_000);

  test(`401 for a forged token before the body is read, every one of ${ATTEMPTS}`, async () => {
    expect(count(await earlyAnswers(gw, { Authorization: 'Bearer not.a.jwt' }))).toEqual({ '401 invalid_token closed': ATTEMPTS });
  }, 90_000);
});

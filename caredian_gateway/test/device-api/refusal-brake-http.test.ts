// Over HTTP: a client flooding requests that are refused waits before its bodies are read, and
// past the brake's queue it is told 429 too_many_refusals at once; another client is unaffected.
import { startGateway, type Harness } from '../support/harness.js';

const SECRETS: Record<string, string> = { 'band-a': 'secret-of-band-a-0123', 'band-b': 'secret-of-band-b-0123' };

let h: Harness;
const tokens: Record<string, string> = {};
beforeAll(async () => {
  h = await startGateway({ CC_CLIENTS_JSON: JSON.stringify(SECRETS) });
  for (const id of Object.keys(SECRETS)) tokens[id] = await h.token('events:fall:ingest', [id, SECRETS[id]!]);
});
afterAll(() => h.close());

const fall = async (client: string, device: string) => {
  const r = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tokens[client]}` }, body: JSON.stringify({ device_id: device, event: 'fall', prob: 0.99 }) });
  return { status: r.status, retryAfter: r.headers.get('retry-after'), body: (await r.json()) as { error?: string } };
};

test("200 refused requests at once: some 403, the rest held or told 429 too_many_refusals; nothing stored; another client's fall goes through", async () => {
  const before = h.gw.store.lastCommittedSeq;
  const flood = Array.from({ length: 200 }, () => fall('band-a', 'band-b'));
  const other = await fall('band-b', 'band-b');
  const answers = await Promise.all(flood);

  const braked = answers.filter((a) => a.status === 429);
  const refused = answers.filter((a) => a.status === 403);
  expect(braked.length + refused.length).toBe(200);
  // At most the queue (64) plus the bucket's burst got to be read and refused; the rest waited for nothing.
  expect(braked.length).toBeGreaterThanOrEqual(100);
  expect(refused.length).toBeGreaterThanOrEqual(1);
  for (const a of braked) expect([a.body.error, a.retryAfter]).toEqual(['too_many_refusals', '1']);
  for (const a of refused) expect(a.body.error).toBe('device_not_allowed');

  expect(other.status).toBe(200);
  expect(h.gw.store.lastCommittedSeq).toBe(before + 1);
});

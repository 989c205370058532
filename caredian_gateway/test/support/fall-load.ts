// Concurrent loops posting fall reports with fresh event ids, for the kill -9 tests: `acked` is
// every event id the gateway acknowledged. A network error (the server or one of its worker
// processes went away) ends a loop, or with `retry` makes it wait briefly and go on.
export function fallLoad(url: string, token: string, prefix: string, loops: number, o: { retry?: boolean } = {}) {
  const acked: string[] = [];
  let stop = false;
  let errors = 0;
  const running = Array.from({ length: loops }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const event_id = `${prefix}-w${w}-${i}`;
      try {
        const r = await fetch(`${url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ device_id: `dev-${w % 4}`, event: 'fall', prob: 0.7, ts: 1765000000, event_id }) });
        if (r.status === 200) acked.push(((await r.json()) as { event_id: string }).event_id);
        else await r.text();
      } catch {
        errors++;
        if (!o.retry || errors > 10_000) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });
  return { acked, errors: () => errors, done: () => Promise.all(running), stop: () => ((stop = true), Promise.all(running)) };
}

// The admin status page in a real browser (Debian chromium), served under an ingress path prefix.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ADMIN_TOKEN, startGateway, type Harness } from '../support/harness.js';
import { INGRESS_PREFIX, startIngressProxy } from '../support/ingress-proxy.js';
import { HA_TOKEN, HaStandin } from '../support/ha-standin.js';
import { waitFor } from '../support/harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let h: Harness;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (the page tests drive the system browser)`);
  h = await startGateway();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

test('renders status, devices and events under /api/hassio_ingress/<token>/ with relative URLs only', async () => {
  const t = await h.token();
  await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: 'band-3', location: 'bathroom', event: 'fall', prob: 0.97 }) });
  const proxy = await startIngressProxy(h.adminUrl, { authorization: `Bearer ${ADMIN_TOKEN}` });
  const page = await browser.newPage();
  const requested: string[] = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(proxy.url);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 10_000 });
    expect(await page.textContent('#version')).toBe('v0.1.0');
    expect(await page.textContent('#status')).toContain('Ready');
    expect(await page.textContent('#devices tbody')).toContain('band-3');
    const events = await page.textContent('#events tbody');
    expect(events).toContain('bathroom');
    expect(events).toContain('0.97');
    // Without Home Assistant the fall is still listed, and the page says plainly that nobody is alerted.
    expect(await page.textContent('#falls tbody')).toContain('band-3');
    expect(await page.isVisible('#warnings')).toBe(true);
    expect(await page.textContent('#warnings')).toMatch(/falls are stored but nobody is alerted/);
    const alertsRow = page.locator('#status dt', { hasText: /^alerts$/ }).locator('xpath=following-sibling::dd[1]');
    expect(await alertsRow.getAttribute('class')).toBe('warn');
    // Every request stayed under the ingress prefix.
    expect(requested.length).toBeGreaterThanOrEqual(5);
    for (const p of requested) expect(p.startsWith(`${INGRESS_PREFIX}/`)).toBe(true);
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(h.config.data_dir, '..', 'caredian-status-page.png') });
  } finally {
    await page.close();
    proxy.server.close();
  }
});

test('standalone without the token: the page asks for it, then loads', async () => {
  const page = await browser.newPage();
  try {
    await page.goto(`${h.adminUrl}/`);
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#login button');
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 10_000 });
    expect(await page.isHidden('#login')).toBe(true);
  } finally {
    await page.close();
  }
});

test('a caregiver acknowledges an open fall from the page: Home Assistant sees it acknowledged', async () => {
  const ha = new HaStandin();
  await ha.start();
  const g = await startGateway({ HA_BASE_URL: ha.url, HA_TOKEN, HA_NOTIFY_MOBILE: 'notify.mobile_app_phone' });
  const proxy = await startIngressProxy(g.adminUrl, { authorization: `Bearer ${ADMIN_TOKEN}` });
  const page = await browser.newPage();
  try {
    await waitFor(() => ha.connected > 0, 10_000, 'Home Assistant connection');
    const t = await g.token('events:fall:ingest');
    const r = await fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: 'band-3', location: 'bathroom', event: 'fall', prob: 0.97 }) });
    const { event_id } = (await r.json()) as { event_id: string };
    await waitFor(() => ha.states.get('binary_sensor.caredian_band_3_fall')?.state === 'on', 10_000, 'alert open in Home Assistant');
    await page.goto(proxy.url);
    const row = page.locator(`#falls tr[data-id="${event_id}"]`);
    await row.getByRole('button', { name: 'Acknowledge' }).click();
    await page.waitForSelector(`#falls tr[data-id="${event_id}"] td.ok`, { timeout: 10_000 });
    // Standalone, the admin token is the identity; as an add-on, the Home Assistant user's name from ingress.
    expect(await row.textContent()).toContain('acknowledged by admin');
    await waitFor(() => ha.states.get('binary_sensor.caredian_band_3_fall')?.state === 'off', 10_000, 'entity off in Home Assistant');
    expect(ha.states.get('binary_sensor.caredian_band_3_fall')!.attributes.acknowledged_by).toBe('admin');
  } finally {
    await page.close();
    proxy.server.close();
    await g.close();
    await ha.stop();
  }
});

test("a pending fall shows its countdown, and I'm OK on the page cancels it", async () => {
  const g = await startGateway({ CONFIRM_WINDOW_SEC: '60' });
  const page = await browser.newPage();
  try {
    const t = await g.token();
    const r = await fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: 'band-5', location: 'kitchen', event: 'fall', prob: 0.92 }) });
    const { event_id } = (await r.json()) as { event_id: string };
    const proxy = await startIngressProxy(g.adminUrl, { authorization: `Bearer ${ADMIN_TOKEN}` });
    try {
      await page.goto(proxy.url);
      const row = page.locator(`#falls tr[data-id="${event_id}"]`);
      await row.waitFor({ timeout: 10_000 });
      expect(await row.getAttribute('data-state')).toBe('pending');
      const first = (await row.locator('td[data-countdown]').textContent())!;
      expect(first).toMatch(/PENDING: caregivers alerted in \d+ s/);
      const secs = (s: string) => Number(/in (\d+) s/.exec(s)![1]);
      await page.waitForFunction((id) => { const td = document.querySelector(`#falls tr[data-id="${id}"] td[data-countdown]`); return td && /in (\d+) s/.test(td.textContent ?? ''); }, event_id);
      await new Promise((res) => setTimeout(res, 2100));
      const later = (await row.locator('td[data-countdown]').textContent())!;
      expect(secs(later)).toBeLessThan(secs(first));
      await row.getByRole('button', { name: "I'm OK" }).click();
      await page.waitForSelector(`#falls tr[data-id="${event_id}"][data-state="cancelled"]`, { timeout: 10_000 });
      expect(await page.textContent(`#falls tr[data-id="${event_id}"]`)).toContain('cancelled by the wearer');
      expect(g.gw.readiness.evaluate().checks.alerts).toMatchObject({ open: 0 });
    } finally {
      proxy.server.close();
    }
  } finally {
    await page.close();
    await g.close();
  }
});

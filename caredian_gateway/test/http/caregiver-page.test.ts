// The status page as a caregiver uses it, in Debian's Chromium under an ingress path prefix, with
// the browser in a time zone far from the gateway's: a simulated device falls, the fall appears
// live (no reload, no polling), its detail plots the motion with the impact, Acknowledge reaches
// Home Assistant and the webhook, and a test alert runs the whole path marked as a test.
// Screenshots go to test-output/screenshots/ (printed when written).
import { existsSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { AlertService } from '../../src/alerting/alert-service.js';
import { simulate } from '../../src/cli/simulation.js';
import { syntheticFall } from '../../src/cli/synthetic-motion.js';
import { ADMIN_TOKEN, CLIENT_ID, CLIENT_SECRET, startGateway, waitFor, type Harness } from '../support/harness.js';
import { INGRESS_PREFIX, startIngressProxy } from '../support/ingress-proxy.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { HA_TOKEN, HaStandin } from '../support/ha-standin.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** UTC+14: whatever zone the gateway runs in, local and UTC times differ here. */
const TZ = 'Pacific/Kiritimati';
export const SCREENSHOTS = resolve('test-output', 'screenshots');
const DEVICES = [{ device_id: 'band-7', name: 'Kitchen band', person: 'Grandma Kim', placement: 'wrist' }];

let browser: Browser;
let ha: HaStandin;
let rx: WebhookReceiver;
let g: Harness;
let proxy: { url: string; server: Server };
let context: BrowserContext;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (the page tests drive the system browser)`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  ha = new HaStandin();
  await ha.start();
  rx = new WebhookReceiver();
  await rx.start();
  g = await startGateway({ HA_BASE_URL: ha.url, HA_TOKEN, HA_NOTIFY_MOBILE: 'notify.mobile_app_phone', ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: rx.url }]), DEVICES_JSON: JSON.stringify(DEVICES) });
  proxy = await startIngressProxy(g.adminUrl, { authorization: `Bearer ${ADMIN_TOKEN}` });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  context = await browser.newContext({ timezoneId: TZ, locale: 'en-GB', viewport: { width: 1100, height: 900 } });
  await waitFor(() => ha.connected > 0, 10_000, 'Home Assistant connection');
}, 60_000);
afterAll(async () => {
  await context?.close();
  await browser?.close();
  proxy?.server.close();
  await g?.close();
  await ha?.stop();
  rx?.stop();
});

async function openPage(): Promise<{ page: Page; errors: string[]; requests: string[]; navigations: () => number }> {
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  let navigations = 0;
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(new URL(r.url()).pathname));
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) navigations++;
  });
  await page.goto(proxy.url);
  await page.waitForSelector('body[data-loaded="true"][data-live="true"]', { timeout: 10_000 });
  return { page, errors, requests, navigations: () => navigations };
}

const localTime = (iso: string) => new Date(iso).toLocaleTimeString('en-GB', { timeZone: TZ, hour: '2-digit', minute: '2-digit', second: '2-digit' });
const utcTime = (iso: string) => new Date(iso).toLocaleTimeString('en-GB', { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', second: '2-digit' });

test('a simulated fall appears live, its detail plots the impact, and Acknowledge reaches Home Assistant and the webhook', async () => {
  const a = await openPage();
  const b = await openPage();
  try {
    const listLoads = a.requests.filter((p) => p === `${INGRESS_PREFIX}/api/falls`).length;
    // The configured names are on the page before the device ever spoke.
    expect(await a.page.textContent('#devices tbody')).toMatch(/Kitchen band \(band-7\).*Grandma Kim.*wrist.*never seen/);

    // The device streams a recording with a fall, four times faster than real time.
    const run = simulate({ url: g.url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, device: 'band-7', location: 'kitchen', recording: syntheticFall(), speed: 4, chunkSec: 1, heartbeatSec: 30, battery: 64, passes: 1 });
    const card = a.page.locator('#open-alerts article');
    await card.waitFor({ timeout: 15_000 });
    const id = (await card.getAttribute('data-id'))!;
    expect(await card.textContent()).toContain('Grandma Kim may have fallen in the kitchen');
    // Live: the page neither reloaded nor asked for the list again.
    expect(a.navigations()).toBe(1);
    expect(a.requests.filter((p) => p === `${INGRESS_PREFIX}/api/falls`).length).toBe(listLoads);

    // Local time in the browser's zone, not UTC.
    const alert = g.gw.module(AlertService)!.get(id)!;
    const row = a.page.locator(`#falls tr[data-id="${id}"]`);
    expect(await row.locator('td.time').textContent()).toBe(localTime(alert.time));
    expect(localTime(alert.time)).not.toBe(utcTime(alert.time));
    expect(await row.textContent()).toContain('Grandma Kim (Kitchen band)');
    const devices = await a.page.locator('#devices tr[data-id="band-7"]').textContent();
    expect(devices).toMatch(/online/);
    expect(devices).toContain('64 %');
    // The status follows too: the open alert is counted without a reload.
    await a.page.waitForFunction(() => [...document.querySelectorAll('#status dd')].some((dd) => dd.textContent!.startsWith('1 open alerts')), undefined, { timeout: 5000 });
    await a.page.screenshot({ path: join(SCREENSHOTS, 'open-fall.png'), fullPage: true });
    console.log(`screenshot: ${join(SCREENSHOTS, 'open-fall.png')}`);

    // The fall's detail: the motion from 10 s before to 10 s after, with the impact marked.
    await card.getByRole('link', { name: 'What happened' }).click();
    await a.page.waitForSelector('#detail-plot[data-complete="true"] svg', { timeout: 15_000 });
    const reports = await run;
    expect(reports[0]!.falls).toHaveLength(1);
    const plot = a.page.locator('#detail-plot svg');
    const points = (await plot.locator('polyline.magnitude').first().getAttribute('points'))!.split(' ');
    expect(points.length).toBeGreaterThan(400);
    expect(await plot.locator('polyline.probability').count()).toBe(1);
    const impact = await plot.locator('.impact-label').textContent();
    expect(Number(/impact (\d+\.\d) g/.exec(impact!)![1])).toBeGreaterThan(4);
    // The impact comes just before the model's decision (the dashed line at 0 s).
    const cx = Number(await plot.locator('circle.impact').getAttribute('cx'));
    const decided = Number(await plot.locator('line.decided').getAttribute('x1'));
    expect(cx).toBeLessThan(decided);
    expect(decided - cx).toBeLessThan(60);
    expect(await plot.locator('circle.impact').isVisible()).toBe(true);
    expect(await a.page.textContent('#detail-title')).toBe('Grandma Kim may have fallen in the kitchen');
    expect(await a.page.textContent('#detail-timeline')).toMatch(/impact: \d+\.\d g.*fall detected \(decided by the gateway’s model from motion data\).*caregivers alerted/s);
    await a.page.locator('#detail').screenshot({ path: join(SCREENSHOTS, 'fall-detail.png') });
    console.log(`screenshot: ${join(SCREENSHOTS, 'fall-detail.png')}`);

    // Acknowledge on one page: the other follows live, Home Assistant and the webhook are told.
    await waitFor(() => ha.states.get('binary_sensor.caredian_band_7_fall')?.state === 'on', 10_000, 'alert open in Home Assistant');
    await card.getByRole('button', { name: 'Acknowledge' }).click();
    await a.page.waitForSelector(`#falls tr[data-id="${id}"] td.ok`, { timeout: 10_000 });
    await b.page.waitForSelector(`#falls tr[data-id="${id}"][data-state="acknowledged"]`, { timeout: 10_000 });
    expect(await b.page.textContent(`#falls tr[data-id="${id}"]`)).toContain('acknowledged by admin');
    expect(await b.page.isHidden('#attention')).toBe(true);
    expect(b.navigations()).toBe(1);
    await waitFor(() => ha.states.get('binary_sensor.caredian_band_7_fall')?.state === 'off', 10_000, 'entity off in Home Assistant');
    expect(ha.states.get('binary_sensor.caredian_band_7_fall')!.attributes.acknowledged_by).toBe('admin');
    await waitFor(() => rx.got.some((w) => w.type === 'fall_acknowledged' && w.alert_id === id), 10_000, 'webhook told of the acknowledgement');
    expect(rx.got.find((w) => w.type === 'fall_acknowledged' && w.alert_id === id)).toMatchObject({ acknowledged_by: 'admin', device_id: 'band-7', source: 'model' });
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
    for (const p of a.requests) expect(p.startsWith(`${INGRESS_PREFIX}/`)).toBe(true);
  } finally {
    await a.page.close();
    await b.page.close();
  }
}, 60_000);

test('"Send a test alert" runs the whole alert path, marked as a test on the page, in Home Assistant and at the webhook', async () => {
  const { page, errors } = await openPage();
  try {
    const calls = ha.serviceCalls.length;
    await page.click('#test-alert');
    const card = page.locator('#open-alerts article.test');
    await card.waitFor({ timeout: 10_000 });
    expect(await card.textContent()).toContain('[TEST] Test alert: nobody fell');
    const id = (await card.getAttribute('data-id'))!;
    await waitFor(() => rx.got.some((w) => w.type === 'fall_detected' && w.alert_id === id), 10_000, 'webhook told of the test alert');
    expect(rx.got.find((w) => w.alert_id === id)).toMatchObject({ test: true });
    await waitFor(() => ha.serviceCalls.slice(calls).some((c) => c.domain === 'notify' && String(c.service_data.title ?? '').startsWith('[TEST]')), 10_000, 'a [TEST] phone notification');
    await card.getByRole('button', { name: 'Acknowledge' }).click();
    await page.waitForSelector(`#falls tr[data-id="${id}"][data-state="acknowledged"]`, { timeout: 10_000 });
    await waitFor(() => rx.got.some((w) => w.type === 'fall_acknowledged' && w.alert_id === id && w.test === true), 10_000, 'webhook told of the acknowledged test alert');
    expect(errors).toEqual([]);
  } finally {
    await page.close();
  }
}, 30_000);

test('status in plain words: what is not set up is grey, not green; a warning says what to do', async () => {
  const h = await startGateway();
  const p = await startIngressProxy(h.adminUrl, { authorization: `Bearer ${ADMIN_TOKEN}` });
  const page = await context.newPage();
  try {
    await page.goto(p.url);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 10_000 });
    const dd = (name: string) => page.locator('#status dt', { hasText: new RegExp(`^${name}$`) }).locator('xpath=following-sibling::dd[1]');
    expect(await dd('influxdb').getAttribute('class')).toBe('off');
    expect(await dd('influxdb').textContent()).toMatch(/^not configured/);
    expect(await dd('home_assistant').getAttribute('class')).toBe('off');
    expect(await dd('storage').getAttribute('class')).toBe('ok');
    expect(await page.textContent('#warnings')).toMatch(/nobody is alerted.*Set up Home Assistant phones \(ha_notify_mobile\) or alert_webhooks/s);
  } finally {
    await page.close();
    p.server.close();
    await h.close();
  }
});

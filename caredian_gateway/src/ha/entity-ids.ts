import { createHash } from 'node:crypto';

/**
 * Entity-id-safe slugs for device ids. ASCII ids map readably (ESP32-01 → esp32_01); ids with other
 * scripts (거실 센서) get a short hash so they stay distinct; `taken` resolves rare collisions.
 */
export class Slugs {
  private bySlug = new Map<string, string>();
  private byId = new Map<string, string>();

  of(deviceId: string): string {
    const known = this.byId.get(deviceId);
    if (known) return known;
    let slug = deviceId.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
    // eslint-disable-next-line no-control-regex
    if (!slug || /[^\x00-\x7f]/.test(deviceId) || (this.bySlug.has(slug) && this.bySlug.get(slug) !== deviceId)) slug = `${slug ? `${slug}_` : 'device_'}${createHash('sha256').update(deviceId).digest('hex').slice(0, 6)}`;
    this.bySlug.set(slug, deviceId);
    this.byId.set(deviceId, slug);
    return slug;
  }
}

// Which device ids a client may speak for. By default only the device id equal to its client id
// (the seed's devices use their client id as device id); a client's `devices` list widens that
// with exact ids, prefixes ending in `*` (a hub relaying a ward's sensors: `ward3-*`), or a lone
// `*` (a trusted hub: any device).
import type { ClientConfig } from '../config/schema.js';

interface Rule {
  any: boolean;
  exact: Set<string>;
  prefixes: string[];
}

export class DeviceOwnership {
  private rules = new Map<string, Rule>();

  constructor(clients: ClientConfig[]) {
    for (const c of clients) {
      const rule: Rule = { any: false, exact: new Set(), prefixes: [] };
      for (const p of c.devices ?? [c.client_id]) {
        if (p === '*') rule.any = true;
        else if (p.endsWith('*')) rule.prefixes.push(p.slice(0, -1));
        else rule.exact.add(p);
      }
      this.rules.set(c.client_id, rule);
    }
  }

  /** Whether `clientId` may post for `deviceId`. A client no longer configured owns nothing. */
  allows(clientId: string, deviceId: string): boolean {
    const r = this.rules.get(clientId);
    if (!r) return false;
    return r.any || r.exact.has(deviceId) || r.prefixes.some((p) => deviceId.startsWith(p));
  }
}

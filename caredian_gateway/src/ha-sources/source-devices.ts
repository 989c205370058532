// An ha_sources entry describes its device the way the `devices` option does (who, where), so
// messages read "Grandma Kim is calling for help in the hallway" without listing it twice.
import type { Config, DeviceConfig } from '../config/schema.js';

/** The configuration with every ha_sources device the `devices` option does not list added to it. */
export function withSourceDevices(c: Config): Config {
  const listed = new Set(c.devices.map((d) => d.device_id));
  const extra: DeviceConfig[] = [];
  for (const s of c.ha_sources) {
    if (listed.has(s.device_id)) continue;
    listed.add(s.device_id);
    extra.push({ device_id: s.device_id, ...(s.person ? { person: s.person } : {}), ...(s.location ? { location: s.location } : {}) });
  }
  return extra.length ? { ...c, devices: [...c.devices, ...extra] } : c;
}

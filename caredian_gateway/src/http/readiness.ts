import type { GatewayModule, ModuleStatus } from '../core/module.js';

export interface Check {
  name: string;
  check: () => ModuleStatus;
}

export class Readiness {
  private checks: Check[] = [];

  add(name: string, check: () => ModuleStatus): void {
    this.checks.push({ name, check });
  }

  addModule(m: GatewayModule): void {
    if (m.status) this.add(m.name, () => m.status!());
  }

  evaluate(): { ready: boolean; checks: Record<string, ModuleStatus> } {
    const checks: Record<string, ModuleStatus> = {};
    let ready = true;
    for (const c of this.checks) {
      let s: ModuleStatus;
      try {
        s = c.check();
      } catch (e) {
        s = { ready: false, detail: (e as Error).message };
      }
      checks[c.name] = s;
      ready &&= s.ready;
    }
    return { ready, checks };
  }
}

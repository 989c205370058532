import type { GatewayModule, ModuleStatus } from '../core/module.js';

export interface ReadinessReport {
  ready: boolean;
  /** ok; degraded (ready, but a check has a warning a person must see); not_ready. */
  status: 'ok' | 'degraded' | 'not_ready';
  warnings: string[];
  checks: Record<string, ModuleStatus>;
}

export class Readiness {
  private checks: { name: string; check: () => ModuleStatus }[] = [];

  add(name: string, check: () => ModuleStatus): void {
    this.checks.push({ name, check });
  }

  addModule(m: GatewayModule): void {
    if (m.status) this.add(m.name, () => m.status!());
  }

  evaluate(): ReadinessReport {
    const checks: Record<string, ModuleStatus> = {};
    const warnings: string[] = [];
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
      if (s.warning) warnings.push(`${c.name}: ${s.warning}`);
    }
    return { ready, status: !ready ? 'not_ready' : warnings.length ? 'degraded' : 'ok', warnings, checks };
  }
}

// What the status page needs beyond the other modules' admin routes: live updates
// (GET /api/stream), a fall's detail with the motion around it (GET /api/falls/<id>) and the
// names the `devices` option gives devices and people (GET /api/people).
import { Router } from 'express';
import type { DeviceConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule } from '../core/module.js';
import type { AlertView } from '../domain/alerts.js';
import type { GatewayBus } from '../domain/bus-events.js';
import { describeDevice } from '../domain/people.js';
import { sendError } from '../http/errors.js';
import { LiveFeed } from './live-feed.js';

export interface StatusPageDeps {
  bus: GatewayBus;
  log: Logger;
  status: () => Record<string, unknown>;
  alert: (id: string) => AlertView | undefined;
  /** The motion kept around a fall the model decided (acceleration magnitude and probabilities). */
  motion: (id: string) => object | undefined;
  devices: readonly DeviceConfig[];
}

export class StatusPageModule implements GatewayModule {
  readonly name = 'page';
  private readonly feed: LiveFeed;

  constructor(private readonly d: StatusPageDeps) {
    this.feed = new LiveFeed({ bus: d.bus, status: d.status, log: d.log });
  }

  async start(): Promise<void> {
    this.feed.start();
  }

  async stop(): Promise<void> {
    this.feed.stop();
  }

  /** Ends the open live streams, so the admin listener closes without waiting for them. */
  closeStreams(): void {
    this.feed.closeAll();
  }

  adminRoutes(): Router[] {
    const r = Router();
    r.get('/stream', this.feed.handler);
    r.get('/people', (_req, res) => {
      res.json({ devices: this.d.devices.map((x) => describeDevice(this.d.devices, x.device_id)) });
    });
    r.get('/falls/:id', (req, res) => {
      const alert = this.d.alert(req.params.id);
      if (!alert) return sendError(res, 404, 'not_found', 'no alert with that id');
      res.json({ alert, device: describeDevice(this.d.devices, alert.device_id), motion: this.d.motion(alert.id) ?? null });
    });
    return [r];
  }
}

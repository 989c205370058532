/** A feature of the gateway. The composition root starts modules in order and stops them in reverse. */
export interface GatewayModule {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Contributes to GET /ready and GET /api/status. */
  status?(): ModuleStatus;
}

export interface ModuleStatus {
  ready: boolean;
  /** Why it is not ready, or a short state description. */
  detail?: string;
  [k: string]: unknown;
}

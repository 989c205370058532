// A fall alert as every part of the gateway sees it (the alert service owns its life).
export type AlertState = 'open' | 'acknowledged';

export interface AlertView {
  id: string;
  device_id: string;
  location: string;
  probability: number;
  source: string;
  /** When the fall happened (ISO 8601). */
  time: string;
  falls: number;
  state: AlertState;
  acknowledged_by?: string;
  acknowledged_at?: string;
  escalation_step: number;
  next_escalation_ms?: number;
  created_ms: number;
  /** Marks an alert raised by the "send a test alert" action, everywhere it is shown. */
  test?: boolean;
}

/** What happened to an alert, as sinks are told. */
export type AlertNoticeType = 'fall_detected' | 'fall_escalated' | 'fall_acknowledged';

export interface AlertNotice {
  type: AlertNoticeType;
  alert: AlertView;
  /** fall_escalated: the escalation step (1, 2, ...) and that tier's notify targets. */
  step?: number;
  targets?: string[];
}

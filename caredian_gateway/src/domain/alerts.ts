// A fall alert as every part of the gateway sees it (the alert service owns its life).
// pending: a fall the wearer may still cancel ("I'm OK") before caregivers are alerted.
export type AlertState = 'pending' | 'open' | 'acknowledged' | 'cancelled';

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
  /** fall, or help: a call for help (a help button), which never waits and no cooldown suppresses. */
  kind?: 'fall' | 'help';
  /** pending: until when the wearer can cancel (epoch ms). */
  pending_until_ms?: number;
  /** The wearer said "I'm OK" (during the window: nobody was disturbed). */
  cancelled_by_wearer?: boolean;
  /** Motion after the fall showed the wearer lying still: alerted at once, at the highest priority. */
  not_moving?: boolean;
  /** Motion after the fall showed the wearer up and moving again (it does not cancel the alert). */
  moving_again?: boolean;
  /** When caregivers were alerted (the end of the pending window, or at once). */
  alerted_ms?: number;
}

/** Caregivers have been (or are being) alerted: not pending, and not cancelled during the window. */
export function isAlerted(a: AlertView): boolean {
  return a.state === 'open' || (a.state === 'acknowledged' && a.alerted_ms !== undefined);
}

/** What happened to an alert, as sinks are told. */
export type AlertNoticeType = 'fall_detected' | 'fall_escalated' | 'fall_acknowledged';
/**
 * Notices for the wearer's window, told only to sinks that reach automations and devices (Home
 * Assistant entities, MQTT), never to people: caregivers hear of a fall only once it is alerted.
 */
export type WearerNoticeType = 'fall_pending' | 'fall_cancelled';

export interface AlertNotice {
  type: AlertNoticeType | WearerNoticeType;
  alert: AlertView;
  /** fall_escalated: the escalation step (1, 2, ...) and that tier's notify targets. */
  step?: number;
  targets?: string[];
}

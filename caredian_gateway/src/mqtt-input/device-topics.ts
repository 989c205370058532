// The topics devices publish on: <base>/<device_id>/fall, /heartbeat and /imu, with the same JSON
// bodies and size limits as POST /events/fall, /devices/heartbeat and /events/imu. The gateway
// answers a rejected message on <base>/<device_id>/error. (Discovery uses /state, /event, /alert,
// /acknowledge and /cancel under the same base: none of these.)
import { IMU_LIMIT_BYTES } from '../inference/imu-schema.js';

export const INPUT_KINDS = ['fall', 'heartbeat', 'imu'] as const;
export type InputKind = (typeof INPUT_KINDS)[number];

/** The HTTP routes' body limits. */
export const LIMIT_BYTES: Record<InputKind, number> = { fall: 16 * 1024, heartbeat: 4 * 1024, imu: IMU_LIMIT_BYTES };

export const inputFilters = (base: string): string[] => INPUT_KINDS.map((k) => `${base}/+/${k}`);

export const errorTopic = (base: string, deviceId: string): string => `${base}/${deviceId}/error`;

/** The device and kind of an input topic; undefined for anything else. */
export function parseInputTopic(base: string, topic: string): { deviceId: string; kind: InputKind } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 3 || parts[0] !== base || !parts[1]) return undefined;
  const kind = INPUT_KINDS.find((k) => k === parts[2]);
  return kind && { deviceId: parts[1], kind };
}

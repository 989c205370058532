// InfluxDB measurement names that more than one feature reads or writes.
export const DEVICE_STATUS_MEASUREMENT = 'device_status';
export const API_USAGE_MEASUREMENT = 'api_usage';
export const FALL_ALERTS_MEASUREMENT = 'fall_alerts';

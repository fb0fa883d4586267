import { alertsTotal } from '../metrics.js';
import type { AlertSource } from './alert.js';
import type { AlertOutcome } from './relay.js';

/** Counts what became of each alert in `ward_alerts_total{source,outcome}` (relay outcomes and webhook refusals). */
export function countAlertOutcome(source: AlertSource, outcome: AlertOutcome): void {
  alertsTotal.inc({ source, outcome });
}

import type { Logger } from 'pino';
import type { AlertsControl } from '../alerts/install.js';
import type { Config } from '../config/env.js';
import type { Inventory } from '../config/inventory.js';
import type { IncidentService } from '../incidents/incident-service.js';
import type { AuditLog } from '../ports/audit.js';
import type { ChatClient } from '../ports/chat.js';
import type { Clock } from '../ports/clock.js';
import type { Mailer } from '../ports/mailer.js';
import type { MfaProvider } from '../ports/mfa.js';
import type { RemoteShell } from '../ports/remote-shell.js';
import type { Store } from '../ports/store.js';
import type { ExecutionLedger } from './executions.js';
import type { ChangeGate } from './gate.js';
import type { InteractionRouter } from './interactions.js';
import type { PolicyEngine } from './policy-engine.js';
import type { CommandRegistry } from './registry.js';

/** Everything a command, a listener or a gate may use; built once in src/main.ts (the composition root). */
export interface Services {
  config: Config;
  log: Logger;
  store: Store;
  chat: ChatClient;
  clock: Clock;
  audit: AuditLog;
  policy: PolicyEngine;
  commands: CommandRegistry;
  /** The current inventory (reloadable). */
  inventory(): Inventory;
  shell: RemoteShell;
  /** Email to admins (forensic summaries, lockdowns); `enabled` is false when Mailgun is not configured. */
  mailer: Mailer;
  interactions: InteractionRouter;
  /** Leases and durable records of running executions (crash recovery, run-once). */
  executions: ExecutionLedger;
  /** Where `change` commands go once their plan is built: approvals, MFA, then execution. */
  gate: ChangeGate;
  /** The second factor (TOTP or Duo push, WARD_MFA_PROVIDER). */
  mfa: MfaProvider;
  /** Incidents: channels, roles, timeline, report (src/incidents/). */
  incidents: IncidentService;
  /** The alert relay's rules, when alerts are enabled (src/alerts/install.ts). */
  alerts?: AlertsControl | undefined;
}

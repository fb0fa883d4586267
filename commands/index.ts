import type { AnyCommand } from '../src/core/command.js';
import audit from './audit.js';
import blockIp from './block-ip.js';
import blockPort from './block-port.js';
import cancel from './cancel.js';
import disableUser from './disable-user.js';
import forensics from './forensics.js';
import help from './help.js';
import hosts from './hosts.js';
import hunt from './hunt.js';
import incident from './incident.js';
import killProcess from './kill-process.js';
import lockdown from './lockdown.js';
import mfa from './mfa.js';
import quarantine from './quarantine.js';
import release from './release.js';
import rules from './rules.js';
import status from './status.js';
import unblockIp from './unblock-ip.js';
import unblockPort from './unblock-port.js';
import unquarantine from './unquarantine.js';
import verify from './verify.js';

/** Every chat command, listed explicitly (no folder scanning): the order is the order of `/ward help`. */
export const commands: AnyCommand[] = [
  help,
  hosts,
  status,
  cancel,
  mfa,
  forensics,
  hunt,
  lockdown,
  release,
  verify,
  blockIp,
  unblockIp,
  blockPort,
  unblockPort,
  killProcess,
  disableUser,
  quarantine,
  unquarantine,
  rules,
  audit,
  incident,
];

import type { AnyCommand } from '../src/core/command.js';
import audit from './audit.js';
import blockIp from './block-ip.js';
import disableUser from './disable-user.js';
import forensics from './forensics.js';
import help from './help.js';
import hosts from './hosts.js';
import killProcess from './kill-process.js';
import lockdown from './lockdown.js';
import release from './release.js';
import status from './status.js';

/** Every chat command, listed explicitly (no folder scanning): the order is the order of `/ward help`. */
export const commands: AnyCommand[] = [
  help,
  hosts,
  status,
  forensics,
  lockdown,
  release,
  blockIp,
  killProcess,
  disableUser,
  audit,
];

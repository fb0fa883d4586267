import { portArg } from '../src/actions/ports.js';
import { elementCommand, PORT_FAMILY } from '../src/actions/set-elements.js';

/** `/ward unblock-port <host|tag:…> <port>[/tcp|/udp]`: undo `block-port` (ward's own table only). */
export default elementCommand({
  name: 'unblock-port',
  summary: 'Reopen a port that block-port closed on hosts',
  usage: 'unblock-port <host|host,host|tag:selector> <port>[/tcp|/udp] --reason "…" [--dry-run]',
  examples: ['unblock-port web1 8080 --reason "INC-42 cleaned"'],
  details:
    "Deletes the port from table inet ward_ports and from ward's boot-time ruleset (the ruleset file and ward-containment.service go when ward holds nothing else on the host); the containment checker stops expecting it. A port ward had not closed is reported, not an error.",
  family: PORT_FAMILY,
  remove: true,
  arg: { name: 'port', schema: portArg },
  check: (port) => port,
});

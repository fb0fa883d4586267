import { checkClosable, parsePortSpec, portArg } from '../src/actions/ports.js';
import { elementCommand, PORT_FAMILY } from '../src/actions/set-elements.js';

/** `/ward block-port <host|tag:…> <port>[/tcp|/udp]`: drop inbound traffic to a port in ward's own nftables table. */
export default elementCommand({
  name: 'block-port',
  summary:
    "Close an inbound port on hosts (ward's nftables table inet ward_ports); never the SSH port ward uses",
  usage: 'block-port <host|host,host|tag:selector> <port>[/tcp|/udp] --reason "…" [--dry-run]',
  examples: [
    'block-port web1 8080 --reason "INC-42 implant listener"',
    'block-port tag:web 53/udp --reason "…"',
  ],
  details:
    "Adds the port to a set of table inet ward_ports (created if missing), whose input chain drops it, and to ward's boot-time ruleset (ward-containment.service), so that it stays closed after a reboot; the containment checker reports it if it leaves the set. The SSH port ward manages a host through is refused. `unblock-port` removes it again. ward never edits anyone else's rules.",
  family: PORT_FAMILY,
  remove: false,
  arg: { name: 'port', schema: portArg },
  check(port, hosts) {
    checkClosable(parsePortSpec(port), hosts);
    return port;
  },
});

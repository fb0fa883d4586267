import { addressArg, blockLimits, checkBlockable } from '../src/actions/contain.js';
import { ADDRESS_FAMILY, elementCommand } from '../src/actions/set-elements.js';

/** `/ward block-ip <host|tag:…> <ip|cidr>`: add an address to ward's nftables block set. */
export default elementCommand({
  name: 'block-ip',
  summary: "Block an IP address or CIDR on hosts (ward's nftables set)",
  usage: 'block-ip <host|tag:selector> <ip|cidr> --reason "…" [--dry-run]',
  examples: ['block-ip web1 203.0.113.7 --reason "scanner"', 'block-ip tag:web 203.0.113.0/24'],
  details:
    "Adds the address to ward's set in table inet ward_block (created if missing), whose input chain drops it, and to ward's boot-time ruleset (ward-containment.service), so that it stays blocked after a reboot; the containment checker reports it if it leaves the set. Refused: the management networks, loopback, link-local, multicast and ranges wider than WARD_BLOCK_MIN_PREFIX_V4/_V6. `unblock-ip` removes it again.",
  family: ADDRESS_FAMILY,
  remove: false,
  arg: { name: 'address', schema: addressArg },
  policy: { allow: ['responder', 'admin'], approvals: 1, approvers: ['approver', 'admin'], mfa: 'none' },
  check: (address, _hosts, services) =>
    checkBlockable(address, services.inventory().managementCidrs, blockLimits(services.config)),
});

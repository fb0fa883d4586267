import { addressArg, normaliseAddress } from '../src/actions/contain.js';
import { ADDRESS_FAMILY, elementCommand } from '../src/actions/set-elements.js';

/** `/ward unblock-ip <host|tag:…> <ip|cidr>`: undo `block-ip` (ward's own block set only). */
export default elementCommand({
  name: 'unblock-ip',
  summary: 'Remove an address or CIDR that block-ip blocked on hosts',
  usage: 'unblock-ip <host|host,host|tag:selector> <ip|cidr> --reason "…" [--dry-run]',
  examples: ['unblock-ip web1 203.0.113.7 --reason "INC-42 false positive"'],
  details:
    "Deletes exactly that element (written as block-ip wrote it: 203.0.113.7/32 is 203.0.113.7) from ward's set in table inet ward_block and from ward's boot-time ruleset, so it stays unblocked after a reboot; the containment checker stops expecting it. When it was ward's last containment on the host (no lockdown, no other block or closed port), the ruleset file and ward-containment.service are removed, as release does. An address ward had not blocked is reported, not an error.",
  family: ADDRESS_FAMILY,
  remove: true,
  arg: { name: 'address', schema: addressArg },
  check: (address) => normaliseAddress(address),
});

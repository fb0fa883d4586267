import { z } from 'zod';
import type { InventoryHost } from '../config/inventory.js';
import { UserInputError } from '../errors.js';
import type { RemoteCommand } from './remote-command.js';

/** ward's table for closed ports: its own, so that deleting it (or an element) restores exactly what ward did. */
export const PORTS_TABLE = 'ward_ports';

export interface PortSpec {
  port: number;
  proto: 'tcp' | 'udp';
}

/** `8080`, `8080/tcp` or `53/udp` (tcp when no protocol is given). */
export function parsePortSpec(value: string): PortSpec {
  const m = /^([1-9]\d{0,4})(?:\/(tcp|udp))?$/.exec(value);
  if (!m || Number(m[1]) > 65535) {
    throw new UserInputError(
      `${JSON.stringify(value.slice(0, 40))} is not a port: use a number from 1 to 65535, optionally with /tcp or /udp (e.g. 8080 or 53/udp).`,
    );
  }
  return { port: Number(m[1]), proto: m[2] === 'udp' ? 'udp' : 'tcp' };
}

export const portText = (p: PortSpec): string => `${p.port}/${p.proto}`;

/** Refuses to close the SSH port ward manages a host through: closing it would cut ward (and you) off. */
export function checkClosable(spec: PortSpec, hosts: readonly InventoryHost[]): void {
  if (spec.proto !== 'tcp') return;
  const managed = hosts.filter((h) => h.transport !== 'local' && h.port === spec.port);
  if (managed.length > 0) {
    throw new UserInputError(
      `${spec.port}/tcp is the SSH port ward manages ${managed.map((h) => h.name).join(', ')} through; ward will not close it. Nothing was run.`,
    );
  }
}

const setName = (p: PortSpec) => `${p.proto}_closed`;

export const listPortsTable: RemoteCommand = { argv: ['nft', 'list', 'table', 'inet', PORTS_TABLE] };

/** Created only when missing: re-declaring the table would add its rules a second time. */
export const createPortsTable: RemoteCommand = {
  argv: ['nft', '-f', '-'],
  stdin: [
    `table inet ${PORTS_TABLE} {`,
    '  set tcp_closed { type inet_service; }',
    '  set udp_closed { type inet_service; }',
    '  chain input {',
    '    type filter hook input priority filter - 10; policy accept;',
    '    tcp dport @tcp_closed drop',
    '    udp dport @udp_closed drop',
    '  }',
    '}',
    '',
  ].join('\n'),
};

/** `nft get|add|delete element` of one port in its protocol's set. */
export const portElement = (verb: 'get' | 'add' | 'delete', p: PortSpec): RemoteCommand => ({
  argv: ['nft', verb, 'element', 'inet', PORTS_TABLE, setName(p), '{', String(p.port), '}'],
});

/** The `<port>[/tcp|/udp]` argument of block-port and unblock-port, normalized to `8080/tcp`. */
export const portArg = z.string().transform((v, ctx) => {
  try {
    return portText(parsePortSpec(v));
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: 'must be a port 1-65535, optionally /tcp or /udp (e.g. 8080 or 53/udp)',
    });
    return z.NEVER;
  }
});

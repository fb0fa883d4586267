import type { InventoryHost } from '../config/inventory.js';
import type { PlanStep } from '../core/command.js';
import { UserInputError } from '../errors.js';
import type { HostOutcome } from './execution-helpers.js';
import { mustRun, type RemoteJob, runRemote, withHost } from './host-session.js';
import { hostStep, type RemoteCommand } from './remote-command.js';

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

const element = (verb: 'get' | 'add' | 'delete', p: PortSpec): RemoteCommand => ({
  argv: ['nft', verb, 'element', 'inet', PORTS_TABLE, setName(p), '{', String(p.port), '}'],
});

export function blockPortPlanSteps(host: InventoryHost, p: PortSpec): PlanStep[] {
  return [
    hostStep({
      id: `${host.name}.ensure-table`,
      title: `Create ward's table inet ${PORTS_TABLE} on ${host.name} (${host.address}) if it is missing`,
      host: host.name,
      run: [listPortsTable, createPortsTable],
    }),
    hostStep({
      id: `${host.name}.close`,
      title: `Drop inbound ${portText(p)} on ${host.name} (skipped if already closed)`,
      host: host.name,
      run: [element('get', p), element('add', p)],
    }),
  ];
}

export function unblockPortPlanSteps(host: InventoryHost, p: PortSpec): PlanStep[] {
  return [
    hostStep({
      id: `${host.name}.reopen`,
      title: `Stop dropping inbound ${portText(p)} on ${host.name} (${host.address}) (skipped if ward had not closed it)`,
      host: host.name,
      run: [element('get', p), element('delete', p)],
    }),
  ];
}

export async function blockPortOnHost(
  job: RemoteJob,
  host: InventoryHost,
  p: PortSpec,
): Promise<HostOutcome> {
  return withHost(job, host, async (session) => {
    const changes: string[] = [];
    if ((await runRemote(session, job, listPortsTable)).code !== 0) {
      await mustRun(session, job, createPortsTable);
      changes.push(`created table inet ${PORTS_TABLE}`);
    }
    if ((await runRemote(session, job, element('get', p))).code === 0) {
      return { host: host.name, ok: true, detail: `${portText(p)} was already closed on ${host.name}.` };
    }
    await mustRun(session, job, element('add', p));
    changes.push(`closed ${portText(p)}`);
    await job.services.audit.record({
      type: 'host.port_blocked',
      actor: job.user,
      requestId: job.requestId,
      hosts: [host.name],
      details: { port: p.port, proto: p.proto },
    });
    return { host: host.name, ok: true, detail: `${host.name}: ${changes.join(', ')}.` };
  });
}

export async function unblockPortOnHost(
  job: RemoteJob,
  host: InventoryHost,
  p: PortSpec,
): Promise<HostOutcome> {
  return withHost(job, host, async (session) => {
    if ((await runRemote(session, job, element('get', p))).code !== 0) {
      return {
        host: host.name,
        ok: true,
        detail: `${portText(p)} was not closed by ward on ${host.name}; nothing changed.`,
      };
    }
    await mustRun(session, job, element('delete', p));
    await job.services.audit.record({
      type: 'host.port_unblocked',
      actor: job.user,
      requestId: job.requestId,
      hosts: [host.name],
      details: { port: p.port, proto: p.proto },
    });
    return { host: host.name, ok: true, detail: `${host.name}: reopened ${portText(p)}.` };
  });
}

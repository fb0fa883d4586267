import { z } from 'zod';
import { hostSelectorArg, type InventoryHost, resolveHosts } from '../config/inventory.js';
import type { CommandPolicy } from '../config/policy.js';
import { type AnyCommand, type CommandServices, defineCommand, type PlanStep } from '../core/command.js';
import { type HostOutcome, jobFrom, planHost, runOnHosts } from './execution-helpers.js';
import { describeError, mustRun, type RemoteJob, runRemote, withHost } from './host-session.js';
import { desiredContainment, type HeldKind, readHeld, writeHeld } from './host-state.js';
import { BLOCK_TABLE, blockedElement, createBlockTable, listBlockTable } from './nft.js';
import { persistPlanStep, syncPersistence } from './persist.js';
import { createPortsTable, listPortsTable, PORTS_TABLE, parsePortSpec, portElement } from './ports.js';
import { hostStep, type RemoteCommand } from './remote-command.js';

/**
 * block-ip / unblock-ip and block-port / unblock-port are one operation on two of ward's own tables: add an element
 * to (or delete it from) a set, record that ward holds it (or no longer does), and bring the boot-time ruleset in
 * line with what ward holds. A family names the table, its commands and the words messages use.
 */
export interface ElementFamily {
  /** Where ward records what it holds (`ward:host:<name>:<held>`). */
  held: HeldKind;
  /** The containment checker's item kind; its items are keyed `<kind>:<element>`. */
  kind: 'block' | 'port';
  /** What the checker calls the set in a drift: "block set". */
  setNoun: string;
  /** The rules the table's input chain must still have for its sets to mean anything. */
  dropRules: readonly string[];
  table: string;
  listTable: RemoteCommand;
  createTable: RemoteCommand;
  /** `nft get|add|delete element …` for one (already validated) element. */
  element(verb: 'get' | 'add' | 'delete', value: string): RemoteCommand;
  /** "traffic from 203.0.113.7", "8080/tcp": what the plan says is dropped. */
  traffic(value: string): string;
  /** Past participles: "blocked" / "unblocked", "closed" / "reopened". */
  on: string;
  off: string;
  /** Plan step ids (after `<host>.`). */
  steps: { add: string; remove: string };
  audit: { on: string; off: string; details(value: string): Record<string, unknown> };
}

export const ADDRESS_FAMILY: ElementFamily = {
  held: 'blocked',
  kind: 'block',
  setNoun: 'block set',
  dropRules: ['ip saddr @blocked4 drop', 'ip6 saddr @blocked6 drop'],
  table: BLOCK_TABLE,
  listTable: listBlockTable,
  createTable: createBlockTable,
  element: blockedElement,
  traffic: (value) => `traffic from ${value}`,
  on: 'blocked',
  off: 'unblocked',
  steps: { add: 'block', remove: 'unblock' },
  audit: { on: 'host.ip_blocked', off: 'host.ip_unblocked', details: (address) => ({ address }) },
};

export const PORT_FAMILY: ElementFamily = {
  held: 'ports',
  kind: 'port',
  setNoun: 'closed-ports set (the port is open)',
  dropRules: ['tcp dport @tcp_closed drop', 'udp dport @udp_closed drop'],
  table: PORTS_TABLE,
  listTable: listPortsTable,
  createTable: createPortsTable,
  element: (verb, value) => portElement(verb, parsePortSpec(value)),
  traffic: (value) => value,
  on: 'closed',
  off: 'reopened',
  steps: { add: 'close', remove: 'reopen' },
  audit: {
    on: 'host.port_blocked',
    off: 'host.port_unblocked',
    details: (value) => {
      const p = parsePortSpec(value);
      return { port: p.port, proto: p.proto };
    },
  },
};

export function addElementPlanSteps(family: ElementFamily, host: InventoryHost, value: string): PlanStep[] {
  return [
    hostStep({
      id: `${host.name}.ensure-table`,
      title: `Create ward's table inet ${family.table} on ${host.name} (${host.address}) if it is missing`,
      host: host.name,
      run: [family.listTable, family.createTable],
    }),
    hostStep({
      id: `${host.name}.${family.steps.add}`,
      title: `Drop inbound ${family.traffic(value)} on ${host.name} (skipped if already ${family.on})`,
      host: host.name,
      run: [family.element('get', value), family.element('add', value)],
    }),
    persistPlanStep(host, `the ${family.on} ${value}`),
  ];
}

export function removeElementPlanSteps(
  family: ElementFamily,
  host: InventoryHost,
  value: string,
): PlanStep[] {
  return [
    hostStep({
      id: `${host.name}.${family.steps.remove}`,
      title: `Stop dropping inbound ${family.traffic(value)} on ${host.name} (${host.address}): delete it from ward's table inet ${family.table} (skipped if it is not there)`,
      host: host.name,
      run: [family.element('get', value), family.element('delete', value)],
    }),
    persistPlanStep(host, `the ${family.off} ${value}`),
  ];
}

/** Writes the boot-time ruleset for what ward holds now; a failure is said, never hidden. */
async function persist(
  session: Parameters<typeof syncPersistence>[0],
  job: RemoteJob,
  host: InventoryHost,
  failed: string,
): Promise<{ text: string; ok: boolean }> {
  try {
    const desired = await desiredContainment(job.services.store, host);
    return { text: await syncPersistence(session, job, host, desired), ok: true };
  } catch (err) {
    return { text: `NOT persisted for reboots: ${describeError(err)}. ${failed}`, ok: false };
  }
}

export async function addElementOnHost(
  family: ElementFamily,
  job: RemoteJob,
  host: InventoryHost,
  value: string,
): Promise<HostOutcome> {
  const { services } = job;
  return withHost(job, host, async (session) => {
    const changes: string[] = [];
    if ((await runRemote(session, job, family.listTable)).code !== 0) {
      await mustRun(session, job, family.createTable);
      changes.push(`created table inet ${family.table}`);
    }
    const already = (await runRemote(session, job, family.element('get', value))).code === 0;
    if (!already) {
      await mustRun(session, job, family.element('add', value));
      changes.push(`${family.on} ${value}`);
      await services.audit.record({
        type: family.audit.on,
        actor: job.user,
        requestId: job.requestId,
        hosts: [host.name],
        details: family.audit.details(value),
      });
    }
    // ward holds this element from now on: it is checked and restored at boot like the ones it added itself.
    const held = await readHeld(services.store, host.name, family.held);
    if (held[value] === undefined) {
      held[value] = {
        since: services.clock.now(),
        by: job.user,
        requestId: job.requestId,
        thread: job.thread,
      };
      await writeHeld(services.store, host.name, family.held, held);
    }
    const persisted = await persist(session, job, host, `It is in place now; a reboot would lift it.`);
    const what = already
      ? `${value} was already ${family.on} on ${host.name}; ${changes.length > 0 ? changes.join(', ') : 'nothing changed'}.`
      : `${host.name}: ${changes.join(', ')}.`;
    return {
      host: host.name,
      ok: persisted.ok,
      detail: `${what} ${persisted.text}`,
      steps: { [`${host.name}.persist`]: persisted.ok ? 'succeeded' : 'failed' },
    };
  });
}

/**
 * Deletes the element live, stops holding it (the checker no longer expects it) and rewrites the boot-time ruleset
 * without it; when it was ward's last containment on the host (no lockdown, no other block or port), the ruleset
 * file, the unit and its link are removed, as release does.
 */
export async function removeElementOnHost(
  family: ElementFamily,
  job: RemoteJob,
  host: InventoryHost,
  value: string,
): Promise<HostOutcome> {
  const { services } = job;
  const persistStep = `${host.name}.persist`;
  return withHost(job, host, async (session) => {
    const live = (await runRemote(session, job, family.element('get', value))).code === 0;
    const held = await readHeld(services.store, host.name, family.held);
    const recorded = held[value] !== undefined;
    if (!live && !recorded) {
      return {
        host: host.name,
        ok: true,
        detail: `${value} was not ${family.on} by ward on ${host.name}; nothing changed.`,
        steps: { [persistStep]: 'skipped' },
      };
    }
    if (live) await mustRun(session, job, family.element('delete', value));
    if (recorded) {
      delete held[value];
      await writeHeld(services.store, host.name, family.held, held);
    }
    await services.audit.record({
      type: family.audit.off,
      actor: job.user,
      requestId: job.requestId,
      hosts: [host.name],
      details: { ...family.audit.details(value), wasLive: live },
    });
    const persisted = await persist(
      session,
      job,
      host,
      `${value} is ${family.off} now, but the boot-time ruleset may still hold it: a reboot could put it back.`,
    );
    const what = live
      ? `${host.name}: ${family.off} ${value}.`
      : `${value} was no longer in ward's table on ${host.name} (removed outside ward); ward no longer holds it.`;
    return {
      host: host.name,
      ok: persisted.ok,
      detail: `${what} ${persisted.text}`,
      steps: { [persistStep]: persisted.ok ? 'succeeded' : 'failed' },
    };
  });
}

/** The built-in policy of block-port, unblock-port and unblock-ip: a responder asks, one approver agrees, with a reason. */
const ELEMENT_POLICY: Partial<CommandPolicy> = {
  allow: ['responder', 'admin'],
  approvals: 1,
  approvers: ['approver', 'admin'],
  mfa: 'none',
  reason: 'required',
};

export interface ElementCommandSpec {
  name: string;
  summary: string;
  usage: string;
  examples: string[];
  details: string;
  family: ElementFamily;
  /** Takes the element away (unblock-…) rather than adding it. */
  remove: boolean;
  /** The element's argument: its name (in the plan's args and in error messages) and schema. */
  arg: { name: 'address' | 'port'; schema: z.ZodType<string> };
  /** Defaults to one approval, reason required. */
  policy?: Partial<CommandPolicy>;
  /**
   * Validates and normalizes the element for these hosts, before the plan exists and again before it runs on each
   * host; throws a UserInputError naming what it refuses.
   */
  check(value: string, hosts: readonly InventoryHost[], services: CommandServices): string;
}

/**
 * A command that adds one element to (or removes it from) a set of ward's on every host of a target:
 * `<name> <host|host,host|tag:…> <element>`. The four (block-ip, unblock-ip, block-port, unblock-port) differ only
 * in their family, their words and how the element is checked.
 */
export function elementCommand(spec: ElementCommandSpec): AnyCommand {
  const value = (args: Record<string, string>): string => args[spec.arg.name] ?? '';
  return defineCommand({
    name: spec.name,
    summary: spec.summary,
    usage: spec.usage,
    examples: spec.examples,
    details: spec.details,
    kind: 'change',
    args: z.object({ target: hostSelectorArg, [spec.arg.name]: spec.arg.schema }),
    positionals: ['target', spec.arg.name],
    policy: spec.policy ?? ELEMENT_POLICY,
    async plan({ args, services }) {
      const a = args as Record<string, string>;
      const target = a['target'] ?? '';
      const hosts = resolveHosts(services.inventory(), target);
      const element = spec.check(value(a), hosts, services);
      return {
        command: spec.name,
        args: { target, [spec.arg.name]: element },
        hosts: hosts.map(planHost),
        steps: hosts.flatMap((h) =>
          spec.remove
            ? removeElementPlanSteps(spec.family, h, element)
            : addElementPlanSteps(spec.family, h, element),
        ),
      };
    },
    async execute(ctx) {
      const job = jobFrom(ctx);
      const given = value(ctx.args as Record<string, string>);
      return runOnHosts(ctx, (host) => {
        const element = spec.check(given, [host], ctx.services);
        return spec.remove
          ? removeElementOnHost(spec.family, job, host, element)
          : addElementOnHost(spec.family, job, host, element);
      });
    },
  });
}

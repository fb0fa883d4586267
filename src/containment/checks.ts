import { acquireHostLock, HostBusyError } from '../actions/host-lock.js';
import {
  connectHost,
  describeError,
  hostLockTtlMs,
  type RemoteJob,
  runRemote,
} from '../actions/host-session.js';
import {
  desiredContainment,
  type HostState,
  normalizeNft,
  readHeld,
  readHostState,
} from '../actions/host-state.js';
import { LOCKDOWN_TABLE, listLockdownTable } from '../actions/nft.js';
import {
  isEmpty,
  persistedRuleset,
  persistPaths,
  readPersistCommands,
  readPersistRecord,
  sha256,
  UNIT_NAME,
  unitFileText,
} from '../actions/persist.js';
import { ADDRESS_FAMILY, type ElementFamily, PORT_FAMILY } from '../actions/set-elements.js';
import { cloudProvider } from '../adapters/cloud-providers.js';
import { IR_TAG, isIsolated, REQUEST_TAG_KEY } from '../cloud/model.js';
import { describeGroups, type QuarantineRecord, quarantineKey, readRecord } from '../cloud/record.js';
import type { InventoryHost } from '../config/inventory.js';
import type { CommandServices } from '../core/command.js';
import { newCorrelationId } from '../core/ids.js';
import type { ShellSession } from '../ports/remote-shell.js';

/**
 * What ward believes it holds, and how to check each piece read-only. A target is what one check reaches (a host
 * over SSH, an instance through its cloud's API); an item is one containment on it, with the request that applied
 * it, where drift is reported and what "Re-apply" asks for.
 */

export type DriftKind = 'lockdown' | 'block' | 'port' | 'persistence' | 'quarantine';
export type Thread = { channel: string; ts: string };

/** A `/ward` request that re-applies an item: built only from validated values (inventory names, addresses, ids). */
export type Reapply =
  | { command: 'lockdown'; host: string }
  | { command: 'block-ip'; host: string; address: string }
  | { command: 'block-port'; host: string; port: string }
  | { command: 'quarantine'; target: string };

export interface Item {
  /** Stable within its target: `lockdown`, `block:<address>`, `port:<port>/<proto>`, `persistence`, `quarantine`. */
  key: string;
  kind: DriftKind;
  /** "lockdown of web1", "block of 203.0.113.7 on web1". */
  label: string;
  requestId: string;
  /** Epoch ms since when ward holds it. */
  since: number;
  thread: Thread | undefined;
  reapply: Reapply;
}

export interface Target {
  /** `host:<name>` or `cloud:<instance id>`. */
  id: string;
  /** The metric's `host` label and how messages name it: the inventory name, else the instance id. */
  name: string;
  items: Item[];
  host?: InventoryHost | undefined;
  quarantine?: QuarantineRecord | undefined;
}

export type Finding = { item: string; differences: string[] };

export type CheckOutcome =
  /** `target`: what ward held when the host was checked (read under the host's lock), if it changed since listing. */
  | { status: 'checked'; findings: Finding[]; target?: Target | undefined }
  | { status: 'unverified'; reason: string }
  /** Another job holds the host for a change: this round does not count, either way. */
  | { status: 'busy'; reason: string };

/** ward's sets on a host: how a held element is named and which command puts it back. */
const HELD_SETS: ReadonlyArray<{
  family: ElementFamily;
  label(element: string, host: string): string;
  reapply(host: string, element: string): Reapply;
}> = [
  {
    family: ADDRESS_FAMILY,
    label: (address, host) => `block of ${address} on ${host}`,
    reapply: (host, address) => ({ command: 'block-ip', host, address }),
  },
  {
    family: PORT_FAMILY,
    label: (port, host) => `closed port ${port} on ${host}`,
    reapply: (host, port) => ({ command: 'block-port', host, port }),
  },
];

/** The host-side targets: every host with a lockdown, a block, a closed port or boot-time persistence recorded. */
export async function hostTarget(services: CommandServices, name: string): Promise<Target | undefined> {
  const host = services.inventory().hosts.get(name);
  const state = await readHostState(services.store, name);
  const persist = await readPersistRecord(services.store, name);
  const items: Item[] = [];
  if (state) {
    items.push({
      key: 'lockdown',
      kind: 'lockdown',
      label: `lockdown of ${name}`,
      requestId: state.requestId,
      since: state.since,
      thread: state.thread,
      reapply: { command: 'lockdown', host: name },
    });
  }
  for (const set of HELD_SETS) {
    const held = await readHeld(services.store, name, set.family.held);
    for (const [element, entry] of Object.entries(held).sort(([a], [b]) => a.localeCompare(b))) {
      items.push({
        key: `${set.family.kind}:${element}`,
        kind: set.family.kind,
        label: set.label(element, name),
        requestId: entry.requestId,
        since: entry.since,
        thread: entry.thread,
        reapply: set.reapply(name, element),
      });
    }
  }
  if (items.length === 0 && !persist) return undefined;
  // Persistence belongs to the host; drift in it is reported where the lockdown (else the first block) was asked.
  const owner = items[0];
  items.push({
    key: 'persistence',
    kind: 'persistence',
    label: `boot-time containment of ${name}`,
    requestId: owner?.requestId ?? 'unknown',
    since: owner?.since ?? persist?.at ?? 0,
    thread: owner?.thread,
    reapply: owner?.reapply ?? { command: 'lockdown', host: name },
  });
  return { id: `host:${name}`, name, items, host };
}

/** Every target ward believes in now: hosts from their store records, instances from confirmed quarantines. */
export async function listTargets(services: CommandServices): Promise<Target[]> {
  const names = new Set<string>();
  for (const key of await services.store.keys('ward:host:')) {
    const m = /^ward:host:([^:]+):(state|blocked|ports|persist)$/.exec(key);
    if (m) names.add(m[1]!);
  }
  const targets: Target[] = [];
  for (const name of [...names].sort()) {
    const t = await hostTarget(services, name);
    if (t) targets.push(t);
  }
  for (const key of (await services.store.keys(quarantineKey(''))).sort()) {
    const t = await cloudTarget(services, key.slice(quarantineKey('').length));
    if (t) targets.push(t);
  }
  return targets;
}

export async function cloudTarget(
  services: CommandServices,
  instanceId: string,
): Promise<Target | undefined> {
  const record = await readRecord(services.store, instanceId).catch(() => undefined);
  if (!record?.confirmed) return undefined;
  const host = [...services.inventory().hosts.values()].find((h) => h.cloud?.instanceId === instanceId);
  const name = host?.name ?? instanceId;
  return {
    id: `cloud:${instanceId}`,
    name,
    quarantine: record,
    items: [
      {
        key: 'quarantine',
        kind: 'quarantine',
        label: `quarantine of ${name}${host ? ` (${instanceId})` : ''}`,
        requestId: record.confirmed.requestId,
        since: Date.parse(record.recordedAt),
        thread: record.confirmed.thread,
        reapply: { command: 'quarantine', target: name },
      },
    ],
  };
}

/** Runs the read-only checks of one target. Never throws: what cannot be checked is `unverified`, never ok. */
export async function checkTarget(services: CommandServices, target: Target): Promise<CheckOutcome> {
  try {
    if (target.quarantine) return await checkQuarantine(services, target.quarantine);
    return await checkHost(services, target);
  } catch (err) {
    if (err instanceof HostBusyError) return { status: 'busy', reason: err.userMessage };
    return { status: 'unverified', reason: describeError(err) };
  }
}

async function checkQuarantine(services: CommandServices, record: QuarantineRecord): Promise<CheckOutcome> {
  const provider = cloudProvider((record.provider ?? 'aws') as 'aws');
  const cloud = await provider.load(services.config);
  const now = await cloud.describeInstance(record.region, record.instanceId);
  const differences: string[] = [];
  if (now.state === 'terminated' || now.state === 'shutting-down') {
    return { status: 'checked', findings: [{ item: 'quarantine', differences }] };
  }
  const isolated = isIsolated(provider, now);
  const wrongId = now.networkInterfaces.some((n) => {
    const expected = record.isolationGroups[n.vpcId];
    return expected !== undefined && n.groups.some((g) => g.groupId !== expected);
  });
  if (!isolated || wrongId) {
    differences.push(`not only in the isolation group any more: ${describeGroups(now)}`);
  }
  if (now.tags[IR_TAG.key] !== IR_TAG.value) {
    differences.push(`tag ${IR_TAG.key} is ${now.tags[IR_TAG.key] ?? 'missing'} (ward set ${IR_TAG.value})`);
  }
  if (now.tags[REQUEST_TAG_KEY] === undefined) differences.push(`tag ${REQUEST_TAG_KEY} is missing`);
  return { status: 'checked', findings: [{ item: 'quarantine', differences }] };
}

async function checkHost(services: CommandServices, target: Target): Promise<CheckOutcome> {
  const host = target.host;
  if (!host) return { status: 'unverified', reason: `${target.name} is no longer in the inventory` };
  const owner = target.items[0];
  const job: RemoteJob = {
    services,
    requestId: `verify-${newCorrelationId()}`,
    command: 'verify',
    user: 'ward',
    thread: owner?.thread ?? { channel: '', ts: '' },
    access: 'read',
    // No plan: the periodic check only reads (nft list, cat, readlink) and changes nothing.
    approved: 'unplanned-read',
  };
  // A read lease: checks share a host with forensics; a change in progress makes this round `busy`, not a failure.
  const lock = await acquireHostLock(services.store, services.clock, host.name, {
    requestId: job.requestId,
    command: 'verify',
    access: 'read',
    ttlMs: hostLockTtlMs(services),
    waitMs: 0,
  });
  try {
    // Read again under the lock: a release that finished just before must not look like a deleted table.
    const fresh = (await hostTarget(services, host.name)) ?? { ...target, items: [] };
    if (fresh.items.length === 0) return { status: 'checked', findings: [], target: fresh };
    const session = await connectHost(job, host);
    try {
      return {
        status: 'checked',
        findings: await hostFindings(services, session, job, fresh),
        target: fresh,
      };
    } finally {
      await session.close().catch(() => {});
    }
  } finally {
    await lock.release().catch(() => {});
  }
}

/** A few lines of what differs between what ward applied and what is there now. */
function diffLines(applied: string, live: string): string {
  const a = applied.split('\n');
  const b = live.split('\n');
  const removed = a.filter((l) => !b.includes(l)).map((l) => `- ${l}`);
  const added = b.filter((l) => !a.includes(l)).map((l) => `+ ${l}`);
  const lines = [...removed, ...added];
  return lines.length > 8
    ? [...lines.slice(0, 8), `… ${lines.length - 8} more`].join('\n')
    : lines.join('\n');
}

/** Each element ward holds in one of its sets: still there, and the table's chain still drops the sets. */
async function setFindings(
  session: ShellSession,
  job: RemoteJob,
  family: ElementFamily,
  items: readonly Item[],
): Promise<Finding[]> {
  const mine = items.filter((i) => i.kind === family.kind);
  if (mine.length === 0) return [];
  const chain = await runRemote(session, job, {
    argv: ['nft', 'list', 'chain', 'inet', family.table, 'input'],
  });
  const rules = normalizeNft(chain.stdout.toString('utf8'));
  const chainProblem =
    chain.code !== 0
      ? `table inet ${family.table} (or its input chain) is missing`
      : family.dropRules.some((r) => !rules.includes(r))
        ? `chain input of ${family.table} no longer drops its sets`
        : undefined;
  const findings: Finding[] = [];
  for (const item of mine) {
    const element = item.key.slice(family.kind.length + 1);
    const differences: string[] = [];
    if (chainProblem) differences.push(chainProblem);
    else if ((await runRemote(session, job, family.element('get', element))).code !== 0) {
      differences.push(`${element} is no longer in ward's ${family.setNoun}`);
    }
    findings.push({ item: item.key, differences });
  }
  return findings;
}

async function hostFindings(
  services: CommandServices,
  session: ShellSession,
  job: RemoteJob,
  target: Target,
): Promise<Finding[]> {
  const host = target.host!;
  const findings: Finding[] = [];
  const state: HostState | undefined = await readHostState(services.store, host.name);

  if (target.items.some((i) => i.key === 'lockdown')) {
    const differences: string[] = [];
    const live = await runRemote(session, job, listLockdownTable);
    if (live.code !== 0) {
      differences.push(`table inet ${LOCKDOWN_TABLE} is missing: the host is open`);
    } else if (state?.appliedTable !== undefined) {
      const now = normalizeNft(live.stdout.toString('utf8'));
      if (now !== state.appliedTable) {
        differences.push(
          `table inet ${LOCKDOWN_TABLE} differs from what ward applied (sha256 ${sha256(now).slice(0, 12)} ≠ ${sha256(state.appliedTable).slice(0, 12)}):\n${diffLines(state.appliedTable, now)}`,
        );
      }
    }
    findings.push({ item: 'lockdown', differences });
  }

  for (const family of [ADDRESS_FAMILY, PORT_FAMILY]) {
    findings.push(...(await setFindings(session, job, family, target.items)));
  }

  // Boot-time containment: the file must hold exactly what ward holds now, the unit be ward's and enabled.
  const desired = await desiredContainment(services.store, host);
  const record = await readPersistRecord(services.store, host.name);
  const differences: string[] = [];
  const paths = persistPaths(host);
  const read = readPersistCommands(paths);
  const file = await runRemote(session, job, read.ruleset);
  if (isEmpty(desired)) {
    if (file.code === 0)
      differences.push(`${paths.rulesetFile} is still there though ward holds nothing here`);
  } else if (file.code !== 0) {
    differences.push(`${paths.rulesetFile} is missing: a reboot would lift the containment`);
  } else if (sha256(file.stdout.toString('utf8')) !== sha256(persistedRuleset(desired))) {
    differences.push(`${paths.rulesetFile} differs from what ward holds on the host`);
  }
  if (!isEmpty(desired) && record?.init !== 'none') {
    const unit = await runRemote(session, job, read.unit);
    if (unit.code !== 0) differences.push(`${paths.unitFile} is missing`);
    else if (unit.stdout.toString('utf8') !== unitFileText(paths.rulesetFile)) {
      differences.push(`${paths.unitFile} is not the unit ward installed`);
    }
    const link = await runRemote(session, job, read.link);
    if (link.code !== 0 || link.stdout.toString('utf8').trim() !== paths.unitFile) {
      differences.push(`${UNIT_NAME} is not enabled (${paths.wantsLink} is missing or points elsewhere)`);
    }
  }
  findings.push({ item: 'persistence', differences });
  return findings;
}

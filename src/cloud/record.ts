import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/env.js';
import type { InstanceState } from '../ports/cloud-isolation.js';
import type { Store } from '../ports/store.js';

/** Where the instance's state before quarantine is kept until unquarantine restores it. */
export function quarantineKey(instanceId: string): string {
  return `ward:cloud:quarantine:${instanceId}`;
}

/** What quarantine recorded about an instance: the data unquarantine restores from, and evidence. */
export interface QuarantineRecord {
  version: 1;
  /** The registry's provider name; records written before there was more than one cloud lack it (they are aws). */
  provider?: string;
  instanceId: string;
  region: string;
  /** The request that recorded it. */
  requestId: string;
  recordedAt: string;
  /** The instance as it was before ward changed anything. */
  original: InstanceState;
  /** Isolation group id per VPC, once step 3 has run. */
  isolationGroups: Record<string, string>;
  snapshots: Array<{ volumeId: string; deviceName: string; snapshotId: string; requestId: string }>;
  /**
   * Set when a quarantine's last step saw the instance isolated and tagged: from then on ward believes in it and
   * checks it (src/containment/). `thread` is where that request ran: drift is reported there.
   */
  confirmed?: { at: string; requestId: string; thread: { channel: string; ts: string } } | undefined;
}

export async function readRecord(store: Store, instanceId: string): Promise<QuarantineRecord | undefined> {
  const raw = await store.get(quarantineKey(instanceId));
  if (raw === null) return undefined;
  const parsed = JSON.parse(raw) as QuarantineRecord;
  return parsed.version === 1 ? parsed : undefined;
}

/**
 * A quarantine record is what ward believes is contained (the checker verifies it, unquarantine restores from it):
 * written durably, so that a Redis failover cannot forget it (docs/redis-ha.md).
 */
export async function saveRecord(store: Store, record: QuarantineRecord): Promise<void> {
  await store.durable(() => store.set(quarantineKey(record.instanceId), JSON.stringify(record)));
}

/**
 * Writes an evidence JSON file under WARD_EVIDENCE_DIR/cloud/ and returns its path. File names are built only
 * from validated ids (instance ids, request ids), never from user text.
 */
export async function writeEvidence(
  config: Pick<Config, 'WARD_EVIDENCE_DIR'>,
  name: string,
  content: unknown,
): Promise<string> {
  if (!/^[a-z0-9][a-z0-9.-]{0,200}$/i.test(name)) throw new Error(`unsafe evidence file name ${name}`);
  const dir = join(config.WARD_EVIDENCE_DIR, 'cloud');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  await writeFile(path, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  return path;
}

/** "eni-1: sg-a (web), sg-b (ssh)" for messages. */
export function describeGroups(instance: InstanceState): string {
  return instance.networkInterfaces
    .map(
      (n) =>
        `${n.networkInterfaceId}: ${n.groups.map((g) => `${g.groupId}${g.groupName ? ` (${g.groupName})` : ''}`).join(', ') || 'no group'}`,
    )
    .join('; ');
}

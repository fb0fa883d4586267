import type { ExecutionContext, ExecutionReport, Plan, PlanStep, StepResult } from '../core/command.js';
import {
  INSTANCE_TAG_KEY,
  type InstanceSnapshot,
  IR_TAG,
  isolationGroupName,
  normalizeCidr,
  REQUEST_TAG_KEY,
} from './ec2-model.js';
import { CloudStateError } from './errors.js';
import { loadEc2 } from './load-ec2.js';
import {
  describeGroups,
  type QuarantineRecord,
  quarantineKey,
  readRecord,
  saveRecord,
  writeEvidence,
} from './record.js';
import { renderCloudReport } from './render.js';
import { eachItem, runSteps, summarize } from './steps.js';
import { type CloudTarget, planHost } from './target.js';

/**
 * How the plan names the request id: it is only known once the request exists, and the plan must hash the same
 * before and after approval, so it says this instead of an id.
 */
export const THIS_REQUEST = '<this request>';

/**
 * The plan of `quarantine`: every EC2 call, per step, with what is known before touching AWS (the plan is built
 * without any API call; per-interface and per-volume calls name what step 1 records).
 */
export function buildQuarantinePlan(
  command: string,
  target: CloudTarget,
  managementCidrs: readonly string[],
  options: { snapshot: boolean },
): Plan {
  const id = target.instanceId;
  const r = target.region;
  const cidrs = managementCidrs.map(normalizeCidr);
  const steps: PlanStep[] = [
    {
      id: 'record',
      title: `Record the security groups, tags, network interfaces and volumes of ${id} (${r})`,
      commands: [
        `ec2:DescribeInstances InstanceIds=[${id}]`,
        `store: SET ${quarantineKey(id)} (original groups per network interface, tags)`,
        `evidence: cloud/${id}-${THIS_REQUEST}-quarantine.json`,
      ],
    },
    {
      id: 'tag',
      title: `Tag ${id} ${IR_TAG.key}=${IR_TAG.value} and ${REQUEST_TAG_KEY}=${THIS_REQUEST}`,
      commands: [
        `ec2:CreateTags Resources=[${id}] Tags=[${IR_TAG.key}=${IR_TAG.value}, ${REQUEST_TAG_KEY}=${THIS_REQUEST}]`,
      ],
    },
    {
      id: 'isolation-group',
      title:
        cidrs.length > 0
          ? `Create or reuse the isolation group ward-isolation-<vpc-id> in each VPC of ${id}: inbound tcp/22 from ${cidrs.join(', ')} only, no outbound`
          : `Create or reuse the isolation group ward-isolation-<vpc-id> in each VPC of ${id}: no inbound (the inventory lists no management CIDR), no outbound`,
      commands: [
        'ec2:DescribeSecurityGroups Filters=[group-name=ward-isolation-<vpc-id>, vpc-id=<vpc-id>]',
        'ec2:CreateSecurityGroup GroupName=ward-isolation-<vpc-id> VpcId=<vpc-id> (only when absent)',
        ...(cidrs.length > 0
          ? [
              `ec2:AuthorizeSecurityGroupIngress IpProtocol=tcp FromPort=22 ToPort=22 Cidrs=[${cidrs.join(', ')}] (those missing)`,
            ]
          : []),
        'ec2:RevokeSecurityGroupEgress IpProtocol=-1 Cidrs=[0.0.0.0/0, ::/0] (the default egress rule, when present)',
      ],
    },
    {
      id: 'replace-groups',
      title: `Replace the security groups of every network interface of ${id} with its VPC's isolation group`,
      commands: [
        'ec2:ModifyNetworkInterfaceAttribute NetworkInterfaceId=<each interface recorded in step 1> Groups=[ward-isolation-<vpc-id>]',
      ],
    },
  ];
  if (options.snapshot) {
    steps.push({
      id: 'snapshot',
      title: `Snapshot every EBS volume of ${id} as evidence, tagged ${REQUEST_TAG_KEY}=${THIS_REQUEST}`,
      commands: [
        `ec2:CreateSnapshot VolumeId=<each volume recorded in step 1> TagSpecifications=[snapshot: ${REQUEST_TAG_KEY}=${THIS_REQUEST}, ${INSTANCE_TAG_KEY}=${id}, ${IR_TAG.key}=${IR_TAG.value}]`,
      ],
    });
  }
  steps.push({
    id: 'verify',
    title: `Verify that every network interface of ${id} is in its isolation group only, and the tags are set`,
    commands: [`ec2:DescribeInstances InstanceIds=[${id}]`],
  });
  return {
    command,
    args: {
      target: target.name,
      instanceId: id,
      region: r,
      snapshot: options.snapshot,
      managementCidrs: cidrs,
    },
    hosts: [planHost(target)],
    steps,
  };
}

/** Whether every interface of `now` has either exactly its recorded groups or exactly its isolation group. */
function consistentWithRecord(record: QuarantineRecord, now: InstanceSnapshot): boolean {
  const recorded = new Map(record.original.networkInterfaces.map((n) => [n.networkInterfaceId, n]));
  if (recorded.size !== now.networkInterfaces.length) return false;
  return now.networkInterfaces.every((n) => {
    const before = recorded.get(n.networkInterfaceId);
    if (!before) return false;
    const ids = n.groups.map((g) => g.groupId).sort();
    const original = before.groups.map((g) => g.groupId).sort();
    const isolated = n.groups.length === 1 && n.groups[0]!.groupName === isolationGroupName(n.vpcId);
    return isolated || (ids.length === original.length && ids.every((g, i) => g === original[i]));
  });
}

/** Carries out an approved quarantine plan. */
export async function executeQuarantine(
  ctx: ExecutionContext<unknown>,
  target: CloudTarget,
  managementCidrs: readonly string[],
): Promise<ExecutionReport> {
  const { services } = ctx;
  const ec2 = await loadEc2(services.config);
  const requestId = ctx.approvalRequestId;
  const id = target.instanceId;
  const region = target.region;
  const evidenceName = `${id}-${requestId}-quarantine.json`;
  let record: QuarantineRecord | undefined;
  let evidencePath: string | undefined;
  const snapshots: Array<{ volumeId: string; deviceName: string; snapshotId: string }> = [];
  const isolationGroups: Record<string, string> = {};
  const need = (): QuarantineRecord => {
    if (!record) throw new CloudStateError('No recorded state: step 1 did not run.');
    return record;
  };

  const handlers = {
    record: async () => {
      const now = await ec2.describeInstance(region, id);
      if (now.state === 'terminated' || now.state === 'shutting-down') {
        throw new CloudStateError(`${id} is ${now.state}: there is nothing to isolate.`);
      }
      if (now.networkInterfaces.length === 0) {
        throw new CloudStateError(
          `${id} has no network interface (EC2-Classic or detached): ward cannot isolate it.`,
        );
      }
      const fresh: QuarantineRecord = {
        version: 1,
        instanceId: id,
        region,
        requestId,
        recordedAt: new Date(services.clock.now()).toISOString(),
        original: now,
        isolationGroups: {},
        snapshots: [],
      };
      // First writer wins: a second quarantine must never overwrite the original state with the isolated one.
      const first = await services.store.setIfAbsent(quarantineKey(id), JSON.stringify(fresh));
      if (first) {
        record = fresh;
        evidencePath = await writeEvidence(services.config, evidenceName, { kind: 'quarantine', record });
        return `recorded ${now.networkInterfaces.length} network interface(s) (${describeGroups(now)}), ${Object.keys(now.tags).length} tag(s), ${now.volumes.length} volume(s); saved as ${quarantineKey(id)} and ${evidencePath}`;
      }
      const existing = await readRecord(services.store, id);
      if (!existing || !consistentWithRecord(existing, now)) {
        throw new CloudStateError(
          `A state recorded by request ${existing?.requestId ?? '(unreadable)'} already exists for ${id}, but the instance now matches neither it nor the isolation group (${describeGroups(now)}). ` +
            `A human must check which groups are right, then delete the store key ${quarantineKey(id)} (its content is in the evidence of that request) and run quarantine again.`,
        );
      }
      record = existing;
      evidencePath = await writeEvidence(services.config, evidenceName, {
        kind: 'quarantine',
        keptRecordFrom: existing.requestId,
        record,
      });
      return `kept the original state recorded by request ${existing.requestId} at ${existing.recordedAt} (${describeGroups(existing.original)}); the instance is part-way or fully quarantined already`;
    },
    tag: async () => {
      const before = need().original.tags[IR_TAG.key];
      await ec2.createTags(region, id, { [IR_TAG.key]: IR_TAG.value, [REQUEST_TAG_KEY]: requestId });
      return `tagged ${id} ${IR_TAG.key}=${IR_TAG.value} and ${REQUEST_TAG_KEY}=${requestId}${before !== undefined && before !== IR_TAG.value ? ` (${IR_TAG.key} was ${before})` : ''}`;
    },
    'isolation-group': async () => {
      const rec = need();
      const vpcs = [...new Set(rec.original.networkInterfaces.map((n) => n.vpcId))].sort();
      const done = await eachItem(vpcs, async (vpc) => {
        const g = await ec2.ensureIsolationGroup(region, vpc, [...managementCidrs], requestId);
        isolationGroups[vpc] = g.groupId;
        return g.changes.length > 0
          ? `${isolationGroupName(vpc)} (${g.groupId}): ${g.changes.join(', ')}`
          : `${isolationGroupName(vpc)} (${g.groupId}): reused, already right`;
      });
      rec.isolationGroups = { ...rec.isolationGroups, ...isolationGroups };
      await saveRecord(services.store, rec);
      return done.join('; ');
    },
    'replace-groups': async () => {
      const rec = need();
      const done = await eachItem(rec.original.networkInterfaces, async (eni) => {
        const groupId = isolationGroups[eni.vpcId];
        if (!groupId) throw new CloudStateError(`no isolation group for ${eni.vpcId}`);
        await ec2.setNetworkInterfaceGroups(region, eni.networkInterfaceId, [groupId]);
        return `${eni.networkInterfaceId}: ${eni.groups.map((g) => g.groupId).join(', ') || 'none'} → ${groupId}`;
      });
      return done.join('; ');
    },
    snapshot: async () => {
      const rec = need();
      if (rec.original.volumes.length === 0) return `${id} has no EBS volume: nothing to snapshot`;
      try {
        const done = await eachItem(rec.original.volumes, async (v) => {
          const s = await ec2.createSnapshot(region, v.volumeId, `ward ${requestId}: ${id} ${v.deviceName}`, {
            [REQUEST_TAG_KEY]: requestId,
            [INSTANCE_TAG_KEY]: id,
            [IR_TAG.key]: IR_TAG.value,
          });
          snapshots.push({ ...v, snapshotId: s.snapshotId });
          return `${v.volumeId} (${v.deviceName}) → ${s.snapshotId} (${s.state})`;
        });
        return done.join('; ');
      } finally {
        // Snapshots already started are evidence even when a later one fails: keep them in the record.
        rec.snapshots = [...rec.snapshots, ...snapshots.map((s) => ({ ...s, requestId }))];
        await saveRecord(services.store, rec);
      }
    },
    verify: async () => {
      const now = await ec2.describeInstance(region, id);
      const wrong = now.networkInterfaces.filter(
        (n) => n.groups.length !== 1 || n.groups[0]!.groupId !== isolationGroups[n.vpcId],
      );
      const problems: string[] = [];
      if (wrong.length > 0)
        problems.push(`not isolated: ${describeGroups({ ...now, networkInterfaces: wrong })}`);
      if (now.tags[IR_TAG.key] !== IR_TAG.value)
        problems.push(`tag ${IR_TAG.key} is ${now.tags[IR_TAG.key] ?? 'missing'}`);
      if (now.tags[REQUEST_TAG_KEY] !== requestId) {
        problems.push(`tag ${REQUEST_TAG_KEY} is ${now.tags[REQUEST_TAG_KEY] ?? 'missing'}`);
      }
      if (problems.length > 0) {
        throw new CloudStateError(
          `EC2 does not show ${id} as quarantined: ${problems.join('; ')}. Someone or something changed it during the run; a human must check it.`,
        );
      }
      return `EC2 shows ${describeGroups(now)} with ${IR_TAG.key}=${IR_TAG.value}`;
    },
  };

  const { results } = await runSteps(ctx, ctx.plan.steps, handlers, (step, result) =>
    auditStep(ctx, step, result),
  );
  const { outcome, summary } = summarize(`Quarantine of ${target.name} (${id})`, ctx.plan.steps, results);
  if (record) {
    evidencePath = await writeEvidence(services.config, evidenceName, {
      kind: 'quarantine',
      record: await readRecord(services.store, id).catch(() => record),
      steps: results,
      outcome,
    }).catch(() => evidencePath);
  }
  await postResult(ctx, {
    title: `Quarantine of ${target.name}`,
    target,
    results,
    outcome,
    summary,
    snapshots,
    evidencePath,
  });
  return { outcome, summary: withSnapshots(summary, snapshots), steps: results };
}

function withSnapshots(summary: string, snapshots: Array<{ volumeId: string; snapshotId: string }>): string {
  if (snapshots.length === 0) return summary;
  return `${summary} Snapshots: ${snapshots.map((s) => `${s.snapshotId} (${s.volumeId})`).join(', ')}.`;
}

/** One audit entry per step, with what it changed: an auditor reads the run step by step. */
export async function auditStep(
  ctx: ExecutionContext<unknown>,
  step: PlanStep,
  result: StepResult,
): Promise<void> {
  if (result.status === 'skipped') return;
  await ctx.services.audit
    .record({
      type: 'cloud.step',
      actor: ctx.invocation.user,
      requestId: ctx.approvalRequestId,
      command: ctx.plan.command,
      hosts: ctx.plan.hosts.map((h) => h.name),
      outcome: result.status,
      details: { step: step.id, title: step.title, detail: result.detail },
    })
    .catch((err: unknown) => ctx.services.log.error({ err }, 'could not audit a cloud step'));
}

/** Posts the Block Kit result in the request's thread; a Slack failure never hides the report. */
export async function postResult(
  ctx: ExecutionContext<unknown>,
  result: Parameters<typeof renderCloudReport>[1],
): Promise<void> {
  try {
    await ctx.services.chat.postMessage(ctx.thread.channel, renderCloudReport(ctx.plan, result), {
      threadTs: ctx.thread.ts,
    });
  } catch (err) {
    ctx.services.log.error(
      { err, approvalRequestId: ctx.approvalRequestId },
      'could not post the cloud result',
    );
  }
}

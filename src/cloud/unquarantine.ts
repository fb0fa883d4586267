import type { ExecutionContext, ExecutionReport, Plan, PlanStep } from '../core/command.js';
import { type InstanceSnapshot, IR_TAG, isolationGroupName, REQUEST_TAG_KEY } from './ec2-model.js';
import { CloudStateError } from './errors.js';
import { loadEc2 } from './load-ec2.js';
import { auditStep, postResult } from './quarantine.js';
import { describeGroups, type QuarantineRecord, quarantineKey, readRecord, writeEvidence } from './record.js';
import { eachItem, runSteps, summarize } from './steps.js';
import { type CloudTarget, planHost } from './target.js';

/** Refusal when there is nothing to restore from: ward will not guess which groups an instance had. */
export function missingRecordError(target: CloudTarget): CloudStateError {
  return new CloudStateError(
    `ward has no recorded state for ${target.instanceId} (store key ${quarantineKey(target.instanceId)} is missing), so it cannot know which security groups to restore. Nothing was changed. ` +
      'A human must check the original groups (the evidence file of the quarantine request, or CloudTrail ModifyNetworkInterfaceAttribute events for its network interfaces), restore them in the AWS console and remove the SecurityStatus and ward:request tags.',
    'ward_cloud_no_record',
  );
}

/**
 * The plan of `unquarantine`, built from the recorded state (read from the store, no API call): the exact groups
 * each interface gets back. If the record changes before execution, the plan's hash changes with it.
 */
export function buildUnquarantinePlan(command: string, target: CloudTarget, record: QuarantineRecord): Plan {
  const id = target.instanceId;
  const enis = record.original.networkInterfaces;
  const steps: PlanStep[] = [
    {
      id: 'check',
      title: `Check that ${id} still has exactly the network interfaces ${enis.map((n) => n.networkInterfaceId).join(', ')}, each in its isolation group only`,
      commands: [`ec2:DescribeInstances InstanceIds=[${id}]`],
    },
    {
      id: 'restore-groups',
      title: `Restore the security groups recorded by request ${record.requestId} on each network interface`,
      commands: enis.map(
        (n) =>
          `ec2:ModifyNetworkInterfaceAttribute NetworkInterfaceId=${n.networkInterfaceId} Groups=[${n.groups.map((g) => g.groupId).join(', ')}]`,
      ),
    },
    {
      id: 'untag',
      title: `Remove the tags ${IR_TAG.key} and ${REQUEST_TAG_KEY} from ${id}`,
      commands: [`ec2:DeleteTags Resources=[${id}] Tags=[${IR_TAG.key}, ${REQUEST_TAG_KEY}]`],
    },
    {
      id: 'verify',
      title: `Verify that every network interface of ${id} has exactly its recorded groups again`,
      commands: [`ec2:DescribeInstances InstanceIds=[${id}]`],
    },
    {
      id: 'forget',
      title: 'Delete the recorded state (it stays in the evidence files)',
      commands: [`store: DEL ${quarantineKey(id)}`],
    },
  ];
  return {
    command,
    args: {
      target: target.name,
      instanceId: id,
      region: target.region,
      recordedBy: record.requestId,
      restore: Object.fromEntries(enis.map((n) => [n.networkInterfaceId, n.groups.map((g) => g.groupId)])),
    },
    hosts: [planHost(target)],
    steps,
  };
}

/** What differs between the instance now and what a quarantine left; empty when it is exactly as left. */
function changesSinceQuarantine(record: QuarantineRecord, now: InstanceSnapshot): string[] {
  const problems: string[] = [];
  const recorded = record.original.networkInterfaces.map((n) => n.networkInterfaceId).sort();
  const current = now.networkInterfaces.map((n) => n.networkInterfaceId).sort();
  if (recorded.join(',') !== current.join(',')) {
    problems.push(
      `its network interfaces changed (recorded: ${recorded.join(', ') || 'none'}; now: ${current.join(', ') || 'none'}): check why an interface was attached or detached during the incident`,
    );
  }
  for (const n of now.networkInterfaces) {
    const expected = record.isolationGroups[n.vpcId];
    const isolated =
      n.groups.length === 1 &&
      n.groups[0]!.groupName === isolationGroupName(n.vpcId) &&
      (expected === undefined || n.groups[0]!.groupId === expected);
    if (!isolated) {
      problems.push(
        `${n.networkInterfaceId} is in ${n.groups.map((g) => `${g.groupId} (${g.groupName})`).join(', ') || 'no group'} instead of only ${isolationGroupName(n.vpcId)}: check who changed it (CloudTrail) and which groups it should have`,
      );
    }
  }
  return problems;
}

export async function executeUnquarantine(
  ctx: ExecutionContext<unknown>,
  target: CloudTarget,
): Promise<ExecutionReport> {
  const { services } = ctx;
  const ec2 = await loadEc2(services.config);
  const id = target.instanceId;
  const region = target.region;
  const requestId = ctx.approvalRequestId;
  const planned = ctx.plan.args['restore'] as Record<string, string[]>;
  let record: QuarantineRecord | undefined;
  let evidencePath: string | undefined;

  const handlers = {
    check: async () => {
      record = await readRecord(services.store, id);
      if (!record) throw missingRecordError(target);
      const recordedPlan = Object.fromEntries(
        record.original.networkInterfaces.map((n) => [n.networkInterfaceId, n.groups.map((g) => g.groupId)]),
      );
      if (JSON.stringify(recordedPlan) !== JSON.stringify(planned)) {
        throw new CloudStateError(
          `The recorded state of ${id} changed after this request was approved; nothing was changed. A human must check the store key ${quarantineKey(id)} and ask again.`,
        );
      }
      const now = await ec2.describeInstance(region, id);
      const problems = changesSinceQuarantine(record, now);
      if (problems.length > 0) {
        throw new CloudStateError(
          `${id} changed since it was quarantined, so ward will not restore the recorded groups over it; nothing was changed. A human must check: ${problems.join('; ')}.`,
          'ward_cloud_changed',
        );
      }
      return `${id} is as quarantine left it (${describeGroups(now)})`;
    },
    'restore-groups': async () => {
      const done = await eachItem(record!.original.networkInterfaces, async (n) => {
        const ids = n.groups.map((g) => g.groupId);
        await ec2.setNetworkInterfaceGroups(region, n.networkInterfaceId, ids);
        return `${n.networkInterfaceId} → ${ids.join(', ')}`;
      });
      return `restored ${done.join('; ')}`;
    },
    untag: async () => {
      await ec2.deleteTags(region, id, [IR_TAG.key, REQUEST_TAG_KEY]);
      return `removed ${IR_TAG.key} and ${REQUEST_TAG_KEY} from ${id}`;
    },
    verify: async () => {
      const rec = record!;
      const now = await ec2.describeInstance(region, id);
      const wrong: string[] = [];
      for (const n of rec.original.networkInterfaces) {
        const cur = now.networkInterfaces.find((c) => c.networkInterfaceId === n.networkInterfaceId);
        const want = n.groups.map((g) => g.groupId).sort();
        const have = (cur?.groups ?? []).map((g) => g.groupId).sort();
        if (want.join(',') !== have.join(','))
          wrong.push(`${n.networkInterfaceId} has ${have.join(', ') || 'none'}, expected ${want.join(', ')}`);
      }
      if (now.tags[IR_TAG.key] !== undefined || now.tags[REQUEST_TAG_KEY] !== undefined)
        wrong.push('the tags are still there');
      if (wrong.length > 0) {
        throw new CloudStateError(
          `EC2 does not show ${id} as restored: ${wrong.join('; ')}. A human must check it.`,
        );
      }
      return `EC2 shows ${describeGroups(now)}`;
    },
    forget: async () => {
      evidencePath = await writeEvidence(services.config, `${id}-${requestId}-unquarantine.json`, {
        kind: 'unquarantine',
        record,
      });
      await services.store.del(quarantineKey(id));
      return `deleted ${quarantineKey(id)}; the record is kept in ${evidencePath}`;
    },
  };

  const { results } = await runSteps(ctx, ctx.plan.steps, handlers, (step, result) =>
    auditStep(ctx, step, result),
  );
  const { outcome, summary } = summarize(`Unquarantine of ${target.name} (${id})`, ctx.plan.steps, results);
  await postResult(ctx, {
    title: `Unquarantine of ${target.name}`,
    target,
    results,
    outcome,
    summary,
    evidencePath,
  });
  return { outcome, summary, steps: results };
}

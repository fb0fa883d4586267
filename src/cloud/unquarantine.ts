import type { ExecutionContext, ExecutionReport, Plan } from '../core/command.js';
import type { CloudCall, CloudProvider, InstanceState } from '../ports/cloud-isolation.js';
import { CloudStateError } from './errors.js';
import { IR_TAG, REQUEST_TAG_KEY } from './model.js';
import { auditStep, postResult } from './quarantine.js';
import { describeGroups, type QuarantineRecord, quarantineKey, readRecord, writeEvidence } from './record.js';
import { type CloudStep, eachItem, runSteps, summarize, toPlanStep } from './steps.js';
import { type CloudTarget, planHost } from './target.js';

type CallOf<K extends CloudCall['op']> = Extract<CloudCall, { op: K }>;

/** Refusal when there is nothing to restore from: ward will not guess which groups an instance had. */
export function missingRecordError(target: CloudTarget): CloudStateError {
  return new CloudStateError(
    `ward has no recorded state for ${target.instanceId} (store key ${quarantineKey(target.instanceId)} is missing), so it cannot know which security groups to restore. Nothing was changed. ` +
      'A human must check the original groups (the evidence file of the quarantine request, or CloudTrail ModifyNetworkInterfaceAttribute events for its network interfaces), restore them in the AWS console and remove the SecurityStatus and ward:request tags.',
    'ward_cloud_no_record',
  );
}

/** What the steps of one unquarantine run share. */
interface UnquarantineRun {
  /** The record as step 1 read it again at execution time. */
  record: QuarantineRecord | undefined;
  evidencePath: string | undefined;
}

function restoreMap(record: QuarantineRecord): Record<string, string[]> {
  return Object.fromEntries(
    record.original.networkInterfaces.map((n) => [n.networkInterfaceId, n.groups.map((g) => g.groupId)]),
  );
}

/**
 * The steps of `unquarantine`, built from the recorded state (read from the store, no API call): the exact groups
 * each interface gets back. If the record changes before execution, the steps, and so the plan's hash, change too.
 */
export function unquarantineSteps(
  target: CloudTarget,
  record: QuarantineRecord,
): CloudStep<UnquarantineRun>[] {
  const id = target.instanceId;
  const provider = target.provider;
  const enis = record.original.networkInterfaces;
  const planned = restoreMap(record);
  const describe = { op: 'describeInstance', instanceId: id } as const;
  const restores = enis.map(
    (n): CallOf<'restore'> => ({
      op: 'restore',
      networkInterfaceId: n.networkInterfaceId,
      groupIds: n.groups.map((g) => g.groupId),
    }),
  );
  const untag: CallOf<'untag'> = { op: 'untag', instanceId: id, keys: [IR_TAG.key, REQUEST_TAG_KEY] };
  return [
    {
      id: 'check',
      title: `Check that ${id} still has exactly the network interfaces ${enis.map((n) => n.networkInterfaceId).join(', ')}, each in its isolation group only`,
      calls: [describe],
      async run({ ctx, state, call }) {
        const record = await readRecord(ctx.services.store, id);
        if (!record) throw missingRecordError(target);
        if (JSON.stringify(restoreMap(record)) !== JSON.stringify(planned)) {
          throw new CloudStateError(
            `The recorded state of ${id} changed after this request was approved; nothing was changed. A human must check the store key ${quarantineKey(id)} and ask again.`,
          );
        }
        state.record = record;
        const now = await call(describe);
        const problems = changesSinceQuarantine(provider, record, now);
        if (problems.length > 0) {
          throw new CloudStateError(
            `${id} changed since it was quarantined, so ward will not restore the recorded groups over it; nothing was changed. A human must check: ${problems.join('; ')}.`,
            'ward_cloud_changed',
          );
        }
        return `${id} is as quarantine left it (${describeGroups(now)})`;
      },
    },
    {
      id: 'restore-groups',
      title: `Restore the security groups recorded by request ${record.requestId} on each network interface`,
      calls: restores,
      async run({ call }) {
        const done = await eachItem(restores, async (r) => {
          await call(r);
          return `${r.networkInterfaceId} → ${r.groupIds.join(', ')}`;
        });
        return `restored ${done.join('; ')}`;
      },
    },
    {
      id: 'untag',
      title: `Remove the tags ${IR_TAG.key} and ${REQUEST_TAG_KEY} from ${id}`,
      calls: [untag],
      async run({ call }) {
        await call(untag);
        return `removed ${IR_TAG.key} and ${REQUEST_TAG_KEY} from ${id}`;
      },
    },
    {
      id: 'verify',
      title: `Verify that every network interface of ${id} has exactly its recorded groups again`,
      calls: [describe],
      async run({ call }) {
        const now = await call(describe);
        const wrong: string[] = [];
        for (const n of enis) {
          const cur = now.networkInterfaces.find((c) => c.networkInterfaceId === n.networkInterfaceId);
          const want = n.groups.map((g) => g.groupId).sort();
          const have = (cur?.groups ?? []).map((g) => g.groupId).sort();
          if (want.join(',') !== have.join(','))
            wrong.push(
              `${n.networkInterfaceId} has ${have.join(', ') || 'none'}, expected ${want.join(', ')}`,
            );
        }
        if (now.tags[IR_TAG.key] !== undefined || now.tags[REQUEST_TAG_KEY] !== undefined)
          wrong.push('the tags are still there');
        if (wrong.length > 0) {
          throw new CloudStateError(
            `${provider.label} does not show ${id} as restored: ${wrong.join('; ')}. A human must check it.`,
          );
        }
        return `${provider.label} shows ${describeGroups(now)}`;
      },
    },
    {
      id: 'forget',
      title: 'Delete the recorded state (it stays in the evidence files)',
      calls: [],
      effects: [`store: DEL ${quarantineKey(id)}`],
      async run({ ctx, state }) {
        state.evidencePath = await writeEvidence(
          ctx.services.config,
          `${id}-${ctx.approvalRequestId}-unquarantine.json`,
          { kind: 'unquarantine', record: state.record },
        );
        await ctx.services.store.durable(() => ctx.services.store.del(quarantineKey(id)));
        return `deleted ${quarantineKey(id)}; the record is kept in ${state.evidencePath}`;
      },
    },
  ];
}

/** The plan of `unquarantine`: every API call, per step, with the exact groups each interface gets back. */
export function buildUnquarantinePlan(command: string, target: CloudTarget, record: QuarantineRecord): Plan {
  return {
    command,
    args: {
      target: target.name,
      instanceId: target.instanceId,
      region: target.region,
      recordedBy: record.requestId,
      restore: restoreMap(record),
    },
    hosts: [planHost(target)],
    steps: unquarantineSteps(target, record).map((s) => toPlanStep(target.provider, s)),
  };
}

/** What differs between the instance now and what a quarantine left; empty when it is exactly as left. */
function changesSinceQuarantine(
  provider: CloudProvider,
  record: QuarantineRecord,
  now: InstanceState,
): string[] {
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
      n.groups[0]!.groupName === provider.isolationGroupName(n.vpcId) &&
      (expected === undefined || n.groups[0]!.groupId === expected);
    if (!isolated) {
      problems.push(
        `${n.networkInterfaceId} is in ${n.groups.map((g) => `${g.groupId} (${g.groupName})`).join(', ') || 'no group'} instead of only ${provider.isolationGroupName(n.vpcId)}: check who changed it (CloudTrail) and which groups it should have`,
      );
    }
  }
  return problems;
}

/**
 * Carries out an approved unquarantine plan. `record` is the one the command read to build the plan again; step 1
 * reads it once more and refuses if it changed.
 */
export async function executeUnquarantine(
  ctx: ExecutionContext<unknown>,
  target: CloudTarget,
  record: QuarantineRecord,
): Promise<ExecutionReport> {
  const state: UnquarantineRun = { record: undefined, evidencePath: undefined };
  const { results } = await runSteps(ctx, target, unquarantineSteps(target, record), state, (step, result) =>
    auditStep(ctx, step, result),
  );
  const { outcome, summary } = summarize(
    `Unquarantine of ${target.name} (${target.instanceId})`,
    ctx.plan.steps,
    results,
  );
  await postResult(ctx, {
    title: `Unquarantine of ${target.name}`,
    target,
    results,
    outcome,
    summary,
    evidencePath: state.evidencePath,
  });
  return { outcome, summary, steps: results };
}

import type { ExecutionContext, ExecutionReport, Plan, PlanStep, StepResult } from '../core/command.js';
import type { CloudProvider, InstanceState, Placeholder } from '../ports/cloud-isolation.js';
import { placeholder } from './calls.js';
import { CloudStateError } from './errors.js';
import { INSTANCE_TAG_KEY, IR_TAG, normalizeCidr, REQUEST_TAG_KEY } from './model.js';
import {
  describeGroups,
  type QuarantineRecord,
  quarantineKey,
  readRecord,
  saveRecord,
  writeEvidence,
} from './record.js';
import { renderCloudReport } from './render.js';
import { type CloudStep, eachItem, runSteps, summarize, toPlanStep } from './steps.js';
import { type CloudTarget, planHost } from './target.js';

/**
 * How the plan names the request id: it is only known once the request exists, and the plan must hash the same
 * before and after approval, so it says this instead of an id.
 */
export const THIS_REQUEST = '<this request>';

/** What the steps of one quarantine run share. */
interface QuarantineRun {
  /** The record step 1 wrote or kept: what the later steps act on. */
  record: QuarantineRecord | undefined;
  evidencePath: string | undefined;
  /** Isolation group id per VPC, as step 3 prepared them. */
  isolationGroups: Record<string, string>;
  snapshots: Array<{ volumeId: string; deviceName: string; snapshotId: string }>;
}

function recorded(state: QuarantineRun): QuarantineRecord {
  if (!state.record) throw new CloudStateError('No recorded state: step 1 did not run.');
  return state.record;
}

/**
 * The steps of `quarantine`, each with the port calls it makes. Built without any API call (the plan is hashed at
 * request time and rebuilt before execution), so what step 1 records at execution time (interfaces, VPCs, volumes)
 * appears as placeholders; the request id too, as THIS_REQUEST.
 */
export function quarantineSteps(
  target: CloudTarget,
  managementCidrs: readonly string[],
  options: { snapshot: boolean },
): CloudStep<QuarantineRun>[] {
  const id = target.instanceId;
  const region = target.region;
  const provider = target.provider;
  const cidrs = managementCidrs.map(normalizeCidr);
  const thisRequest = placeholder(THIS_REQUEST);
  const eachVpc = placeholder('<vpc-id>');
  const isolationGroup = provider.isolationGroupName('<vpc-id>');
  const describe = { op: 'describeInstance', instanceId: id } as const;
  const irTags = { [IR_TAG.key]: IR_TAG.value, [REQUEST_TAG_KEY]: thisRequest };
  const steps: CloudStep<QuarantineRun>[] = [
    {
      id: 'record',
      title: `Record the security groups, tags, network interfaces and volumes of ${id} (${region})`,
      calls: [describe],
      effects: [
        `store: SET ${quarantineKey(id)} (original groups per network interface, tags)`,
        `evidence: cloud/${id}-${THIS_REQUEST}-quarantine.json`,
      ],
      async run({ ctx, state, call }) {
        const { services } = ctx;
        const requestId = ctx.approvalRequestId;
        const evidenceName = `${id}-${requestId}-quarantine.json`;
        const now = await call(describe);
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
          provider: provider.name,
          instanceId: id,
          region,
          requestId,
          recordedAt: new Date(services.clock.now()).toISOString(),
          original: now,
          isolationGroups: {},
          snapshots: [],
        };
        // First writer wins: a second quarantine must never overwrite the original state with the isolated one.
        // Durable: a failover must not forget the original state (a retry after "not durable" finds it here).
        const first = await services.store.durable(() =>
          services.store.setIfAbsent(quarantineKey(id), JSON.stringify(fresh)),
        );
        if (first) {
          state.record = fresh;
          state.evidencePath = await writeEvidence(services.config, evidenceName, {
            kind: 'quarantine',
            record: fresh,
          });
          return `recorded ${now.networkInterfaces.length} network interface(s) (${describeGroups(now)}), ${Object.keys(now.tags).length} tag(s), ${now.volumes.length} volume(s); saved as ${quarantineKey(id)} and ${state.evidencePath}`;
        }
        const existing = await readRecord(services.store, id);
        if (!existing || !consistentWithRecord(provider, existing, now)) {
          throw new CloudStateError(
            `A state recorded by request ${existing?.requestId ?? '(unreadable)'} already exists for ${id}, but the instance now matches neither it nor the isolation group (${describeGroups(now)}). ` +
              `A human must check which groups are right, then delete the store key ${quarantineKey(id)} (its content is in the evidence of that request) and run quarantine again.`,
          );
        }
        state.record = existing;
        state.evidencePath = await writeEvidence(services.config, evidenceName, {
          kind: 'quarantine',
          keptRecordFrom: existing.requestId,
          record: existing,
        });
        return `kept the original state recorded by request ${existing.requestId} at ${existing.recordedAt} (${describeGroups(existing.original)}); the instance is part-way or fully quarantined already`;
      },
    },
    {
      id: 'tag',
      title: `Tag ${id} ${IR_TAG.key}=${IR_TAG.value} and ${REQUEST_TAG_KEY}=${THIS_REQUEST}`,
      calls: [{ op: 'tag', instanceId: id, tags: irTags }],
      async run({ ctx, state, call }) {
        const requestId = ctx.approvalRequestId;
        const before = recorded(state).original.tags[IR_TAG.key];
        await call({
          op: 'tag',
          instanceId: id,
          tags: { [IR_TAG.key]: IR_TAG.value, [REQUEST_TAG_KEY]: requestId },
        });
        return `tagged ${id} ${IR_TAG.key}=${IR_TAG.value} and ${REQUEST_TAG_KEY}=${requestId}${before !== undefined && before !== IR_TAG.value ? ` (${IR_TAG.key} was ${before})` : ''}`;
      },
    },
    {
      id: 'isolation-group',
      title:
        cidrs.length > 0
          ? `Create or reuse the isolation group ${isolationGroup} in each VPC of ${id}: inbound tcp/22 from ${cidrs.join(', ')} only, no outbound`
          : `Create or reuse the isolation group ${isolationGroup} in each VPC of ${id}: no inbound (the inventory lists no management CIDR), no outbound`,
      calls: [{ op: 'prepareIsolation', vpcId: eachVpc, managementCidrs: cidrs, requestId: thisRequest }],
      async run({ ctx, state, call }) {
        const rec = recorded(state);
        const vpcs = [...new Set(rec.original.networkInterfaces.map((n) => n.vpcId))].sort();
        const done = await eachItem(vpcs, async (vpc) => {
          const g = await call({
            op: 'prepareIsolation',
            vpcId: vpc,
            managementCidrs: cidrs,
            requestId: ctx.approvalRequestId,
          });
          state.isolationGroups[vpc] = g.groupId;
          const name = provider.isolationGroupName(vpc);
          return g.changes.length > 0
            ? `${name} (${g.groupId}): ${g.changes.join(', ')}`
            : `${name} (${g.groupId}): reused, already right`;
        });
        rec.isolationGroups = { ...rec.isolationGroups, ...state.isolationGroups };
        await saveRecord(ctx.services.store, rec);
        return done.join('; ');
      },
    },
    {
      id: 'replace-groups',
      title: `Replace the security groups of every network interface of ${id} with its VPC's isolation group`,
      calls: [
        {
          op: 'isolate',
          networkInterfaceId: placeholder('<each interface recorded in step 1>'),
          isolationGroupId: placeholder(isolationGroup),
        },
      ],
      async run({ state, call }) {
        const done = await eachItem(recorded(state).original.networkInterfaces, async (eni) => {
          const groupId = state.isolationGroups[eni.vpcId];
          if (!groupId) throw new CloudStateError(`no isolation group for ${eni.vpcId}`);
          await call({
            op: 'isolate',
            networkInterfaceId: eni.networkInterfaceId,
            isolationGroupId: groupId,
          });
          return `${eni.networkInterfaceId}: ${eni.groups.map((g) => g.groupId).join(', ') || 'none'} → ${groupId}`;
        });
        return done.join('; ');
      },
    },
  ];
  if (options.snapshot) {
    const evidenceTags = <T extends string | Placeholder>(request: T) => ({
      [REQUEST_TAG_KEY]: request,
      [INSTANCE_TAG_KEY]: id,
      [IR_TAG.key]: IR_TAG.value,
    });
    steps.push({
      id: 'snapshot',
      title: `Snapshot every EBS volume of ${id} as evidence, tagged ${REQUEST_TAG_KEY}=${THIS_REQUEST}`,
      calls: [
        {
          op: 'snapshotVolume',
          volumeId: placeholder('<each volume recorded in step 1>'),
          description: placeholder(`ward ${THIS_REQUEST}: ${id} <device>`),
          tags: evidenceTags(thisRequest),
        },
      ],
      async run({ ctx, state, call }) {
        const rec = recorded(state);
        const requestId = ctx.approvalRequestId;
        if (rec.original.volumes.length === 0) return `${id} has no EBS volume: nothing to snapshot`;
        const started: Array<{ volumeId: string; deviceName: string; snapshotId: string }> = [];
        try {
          const done = await eachItem(rec.original.volumes, async (v) => {
            const s = await call({
              op: 'snapshotVolume',
              volumeId: v.volumeId,
              description: `ward ${requestId}: ${id} ${v.deviceName}`,
              tags: evidenceTags(requestId),
            });
            started.push({ ...v, snapshotId: s.snapshotId });
            return `${v.volumeId} (${v.deviceName}) → ${s.snapshotId} (${s.state})`;
          });
          return done.join('; ');
        } finally {
          // Snapshots already started are evidence even when a later one fails: keep them in the record.
          state.snapshots.push(...started);
          rec.snapshots = [...rec.snapshots, ...started.map((s) => ({ ...s, requestId }))];
          await saveRecord(ctx.services.store, rec);
        }
      },
    });
  }
  steps.push({
    id: 'verify',
    title: `Verify that every network interface of ${id} is in its isolation group only, and the tags are set`,
    calls: [describe],
    async run({ ctx, state, call }) {
      const requestId = ctx.approvalRequestId;
      const now = await call(describe);
      const wrong = now.networkInterfaces.filter(
        (n) => n.groups.length !== 1 || n.groups[0]!.groupId !== state.isolationGroups[n.vpcId],
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
          `${provider.label} does not show ${id} as quarantined: ${problems.join('; ')}. Someone or something changed it during the run; a human must check it.`,
        );
      }
      // From here ward believes in this quarantine: the containment checker verifies it and reports drift here.
      const rec = recorded(state);
      rec.confirmed = {
        at: new Date(ctx.services.clock.now()).toISOString(),
        requestId,
        thread: ctx.thread,
      };
      await saveRecord(ctx.services.store, rec);
      return `${provider.label} shows ${describeGroups(now)} with ${IR_TAG.key}=${IR_TAG.value}`;
    },
  });
  return steps;
}

/** The plan of `quarantine`: every API call, per step, as the provider makes it. */
export function buildQuarantinePlan(
  command: string,
  target: CloudTarget,
  managementCidrs: readonly string[],
  options: { snapshot: boolean },
): Plan {
  return {
    command,
    args: {
      target: target.name,
      instanceId: target.instanceId,
      region: target.region,
      snapshot: options.snapshot,
      managementCidrs: managementCidrs.map(normalizeCidr),
    },
    hosts: [planHost(target)],
    steps: quarantineSteps(target, managementCidrs, options).map((s) => toPlanStep(target.provider, s)),
  };
}

/** Whether every interface of `now` has either exactly its recorded groups or exactly its isolation group. */
function consistentWithRecord(
  provider: CloudProvider,
  record: QuarantineRecord,
  now: InstanceState,
): boolean {
  const recordedById = new Map(record.original.networkInterfaces.map((n) => [n.networkInterfaceId, n]));
  if (recordedById.size !== now.networkInterfaces.length) return false;
  return now.networkInterfaces.every((n) => {
    const before = recordedById.get(n.networkInterfaceId);
    if (!before) return false;
    const ids = n.groups.map((g) => g.groupId).sort();
    const original = before.groups.map((g) => g.groupId).sort();
    const isolated = n.groups.length === 1 && n.groups[0]!.groupName === provider.isolationGroupName(n.vpcId);
    return isolated || (ids.length === original.length && ids.every((g, i) => g === original[i]));
  });
}

/** Carries out an approved quarantine plan. */
export async function executeQuarantine(
  ctx: ExecutionContext<unknown>,
  target: CloudTarget,
  managementCidrs: readonly string[],
  options: { snapshot: boolean },
): Promise<ExecutionReport> {
  const { services } = ctx;
  const id = target.instanceId;
  const state: QuarantineRun = {
    record: undefined,
    evidencePath: undefined,
    isolationGroups: {},
    snapshots: [],
  };
  const { results } = await runSteps(
    ctx,
    target,
    quarantineSteps(target, managementCidrs, options),
    state,
    (step, result) => auditStep(ctx, step, result),
  );
  const { outcome, summary } = summarize(`Quarantine of ${target.name} (${id})`, ctx.plan.steps, results);
  const { record, snapshots } = state;
  let evidencePath = state.evidencePath;
  if (record) {
    evidencePath = await writeEvidence(services.config, `${id}-${ctx.approvalRequestId}-quarantine.json`, {
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

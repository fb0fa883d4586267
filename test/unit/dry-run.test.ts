import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MemoryStore } from '../../src/adapters/memory/memory-store.js';
import { loadConfig } from '../../src/config/env.js';
import { type CommandContext, defineCommand, type Plan } from '../../src/core/command.js';
import { DRY_RUN_DETAIL, runExecution } from '../../src/core/execution.js';
import { ExecutionLedger } from '../../src/core/executions.js';
import type { Services } from '../../src/core/services.js';
import type { AuditEvent } from '../../src/ports/audit.js';
import { noMetrics } from '../../src/ports/metrics.js';

const baseEnv = { SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: 'abcdef0123456789' };

function world(env: Record<string, string>) {
  const audited: AuditEvent[] = [];
  const log = pino({ level: 'silent' });
  const services = {
    config: loadConfig({ ...baseEnv, ...env }),
    log,
    metrics: noMetrics,
    executions: new ExecutionLedger(new MemoryStore(), log, 15_000),
    audit: {
      record: async (e: AuditEvent) => {
        audited.push(e);
      },
      recent: async () => [],
    },
  } as unknown as Services;
  return { services, audited };
}

/** A command that records whether its execute() ran: the thing a dry run must never reach. */
function commandThatRecords(readOnly: boolean) {
  const ran: string[] = [];
  const command = defineCommand({
    name: readOnly ? 'collect' : 'isolate',
    summary: 'test',
    usage: 'x',
    examples: [],
    kind: 'change',
    readOnly,
    args: z.object({}),
    positionals: [],
    policy: {},
    plan: async () => plan,
    execute: async () => {
      ran.push('executed');
      return { outcome: 'succeeded', summary: 'did it', steps: [{ id: 'apply', status: 'succeeded' }] };
    },
  });
  return { command, ran };
}

const plan: Plan = {
  command: 'isolate',
  args: { host: 'web1' },
  hosts: [{ name: 'web1', address: '198.51.100.11', hostKey: 'SHA256:x' }],
  steps: [
    { id: 'evidence', title: 'Collect evidence on web1', commands: [] },
    { id: 'apply', title: 'Apply nftables table ward_lockdown on web1', commands: ['nft -f -'] },
  ],
};

function run(services: Services, command: ReturnType<typeof commandThatRecords>['command']) {
  const ctx = { invocation: { user: 'U0RESPONDER' } } as unknown as CommandContext<unknown>;
  return runExecution(services, {
    command,
    ctx,
    plan,
    approvalRequestId: 'req1',
    thread: { channel: 'C1', ts: '1.1' },
  });
}

describe('WARD_DRY_RUN=1 (approve and plan everything, change nothing)', () => {
  it('reports the approved plan as a dry run and never runs the change', async () => {
    const { services, audited } = world({ WARD_DRY_RUN: '1' });
    const { command, ran } = commandThatRecords(false);
    const report = await run(services, command);
    expect(ran).toEqual([]);
    expect(report.dryRun).toBe(true);
    expect(report.summary).toMatch(/^Dry run \(WARD_DRY_RUN=1\): nothing changed/);
    expect(report.summary).toContain('Apply nftables table ward_lockdown on web1');
    expect(report.steps).toEqual([
      { id: 'evidence', status: 'skipped', detail: DRY_RUN_DETAIL },
      { id: 'apply', status: 'skipped', detail: DRY_RUN_DETAIL },
    ]);
    expect(audited.map((e) => [e.type, e.details?.['dryRun']])).toEqual([
      ['execution.started', true],
      ['execution.finished', true],
    ]);
  });

  it('still runs read-only change commands such as forensics', async () => {
    const { services } = world({ WARD_DRY_RUN: '1' });
    const { command, ran } = commandThatRecords(true);
    const report = await run(services, command);
    expect(ran).toEqual(['executed']);
    expect(report.dryRun).toBeUndefined();
  });

  it('changes nothing about execution when unset', async () => {
    const { services } = world({});
    const { command, ran } = commandThatRecords(false);
    const report = await run(services, command);
    expect(ran).toEqual(['executed']);
    expect(report.summary).toBe('did it');
  });

  it('refuses values other than 0 and 1, by name', () => {
    expect(() => loadConfig({ ...baseEnv, WARD_DRY_RUN: 'yes' })).toThrow(/WARD_DRY_RUN: must be 0 or 1/);
  });
});

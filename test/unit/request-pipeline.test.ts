import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import incidentCommand from '../../commands/incident.js';
import { MemoryStore } from '../../src/adapters/memory/memory-store.js';
import { loadConfig } from '../../src/config/env.js';
import { EMPTY_INVENTORY } from '../../src/config/inventory.js';
import type { CommandPolicyOverride } from '../../src/config/policy.js';
import { createApprovals } from '../../src/core/approvals/approvals.js';
import { type AnyCommand, defineCommand } from '../../src/core/command.js';
import { ExecutionLedger } from '../../src/core/executions.js';
import { PolicyEngine } from '../../src/core/policy-engine.js';
import { CommandRegistry } from '../../src/core/registry.js';
import {
  openRequest,
  personRequest,
  type RequestInput,
  type RequestOutcome,
  requestsPort,
} from '../../src/core/requests/open-request.js';
import type { Services } from '../../src/core/services.js';
import { incidentButtonRequest } from '../../src/incidents/interactions.js';
import type { AuditEvent } from '../../src/ports/audit.js';
import type { ChatClient } from '../../src/ports/chat.js';
import { noMetrics } from '../../src/ports/metrics.js';
import type { MfaProvider } from '../../src/ports/mfa.js';
import type { RequestNotifier } from '../../src/ports/request-notifier.js';
import type { ActionEvent } from '../../src/slack/interactions.js';

/**
 * Every way in × who asks × policy case, through the real pipeline (openRequest → approvals core), with fakes only
 * at the ports. The point: the same origin gets the same decision whichever entry point it came through.
 */

const RESPONDER = 'U0RESPOND';
const OUTSIDER = 'U0OUTSIDE';
const WARD = 'U0WARDBOT';
const CHANNEL = 'C0PIPE';

const isolate = defineCommand({
  name: 'isolate',
  summary: 'test command',
  usage: 'isolate <host> --reason "…" [--dry-run]',
  examples: [],
  kind: 'change',
  args: z.object({ host: z.string().regex(/^[a-z0-9-]+$/) }),
  positionals: ['host'],
  policy: {},
  plan: async ({ args }) => ({
    command: 'isolate',
    args,
    hosts: [{ name: args.host, address: '198.51.100.11', hostKey: 'SHA256:x' }],
    steps: [{ id: 'apply', title: `Isolate ${args.host}`, commands: ['nft -f -'] }],
  }),
  execute: async () => ({
    outcome: 'succeeded',
    summary: 'done',
    steps: [{ id: 'apply', status: 'succeeded' }],
  }),
});

function world(policy: CommandPolicyOverride, more: AnyCommand[] = []) {
  const audited: AuditEvent[] = [];
  const log = pino({ level: 'silent' });
  const store = new MemoryStore();
  let ts = 0;
  const chat = {
    postMessage: async (channel: string) => ({ channel, ts: `${++ts}.000` }),
    postEphemeral: async () => {},
    respond: async () => {},
    update: async () => {},
    openView: async () => {},
    usergroupMembers: async () => [],
  } as unknown as ChatClient;
  const clock = { now: () => Date.now() };
  const registry = new CommandRegistry([isolate, ...more]);
  const mfa: MfaProvider = {
    name: 'totp',
    kind: 'code',
    assertUsable: () => {},
    verify: async () => ({ ok: true }),
    status: async () => ({ enrolled: true }) as Awaited<ReturnType<MfaProvider['status']>>,
  };
  const notifier: RequestNotifier = {
    postRequest: async (req) => ({ channel: req.channel, ts: `${++ts}.000` }),
    postRunNotice: async (req) => ({ channel: req.channel, ts: `${++ts}.000` }),
    redrawRequest: async () => {},
    announceBreakGlass: async () => {},
    announceAdvisory: async () => {},
    tell: async () => {},
    askCode: async () => {},
    planChanged: async () => {},
    running: async () => {},
    finished: async () => {},
    interrupted: async () => {},
    dryRun: async () => {},
    tampered: async () => {},
  };
  const approvals = createApprovals(() => services, { mfa });
  const services: Services = {
    config: loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: 'abcdef0123456789' }),
    log,
    store,
    chat,
    clock,
    audit: {
      record: async (e: AuditEvent) => {
        audited.push(e);
      },
      recent: async () => [],
    } as unknown as Services['audit'],
    policy: new PolicyEngine(
      { roles: { responder: [RESPONDER], admin: [RESPONDER] }, commands: { isolate: policy } },
      registry,
      chat,
      clock,
    ),
    commands: registry,
    inventory: () => EMPTY_INVENTORY,
    shell: {} as Services['shell'],
    mailer: { enabled: false } as unknown as Services['mailer'],
    executions: new ExecutionLedger(store, log, 15_000),
    mfa,
    metrics: noMetrics,
    notifier,
    approvals: approvals.service,
    requests: requestsPort(() => services),
    wardUserId: async () => WARD,
    incidents: {} as Services['incidents'],
    hostLocks: { releaseFor: async () => {} },
  };
  return { services, audited };
}

/** What each entry point builds: who asks, what, and where answers go. Nothing else. */
type EntryPoint = (ask: { user: string; text: string; host: string; reason?: string }) => RequestInput;
const byPerson: Record<string, EntryPoint> = {
  'slash command': ({ user, text }) => ({
    origin: { kind: 'person', user },
    ask: { text },
    replyTo: { channel: CHANNEL, responseUrl: 'http://127.0.0.1:9/r', triggerId: 't1' },
    correlationId: 'c-slash',
  }),
  'alert button': ({ user, text }) => ({
    origin: { kind: 'person', user },
    ask: { text },
    replyTo: { channel: CHANNEL, threadTs: '1.000', responseUrl: 'http://127.0.0.1:9/r', triggerId: 't2' },
    correlationId: 'c-button',
  }),
  // A hunt's follow-up buttons ("lock down the hits", --then-unblock-port) and containment's Re-apply button ask
  // through services.requests.openAs, which is requestsPort's: openRequest(personRequest(…)).
  'hunt follow-up / containment re-apply (requests.openAs)': ({ user, text }) =>
    personRequest({
      user,
      text,
      channel: CHANNEL,
      threadTs: '1.000',
      responseUrl: 'http://127.0.0.1:9/r',
      triggerId: 't3',
      correlationId: 'c-openas',
    }),
  're-run through approval': ({ user, text }) => ({
    origin: { kind: 'person', user },
    ask: { text },
    replyTo: { channel: CHANNEL, responseUrl: 'http://127.0.0.1:9/r' },
    correlationId: 'c-rerun',
  }),
};
const byWard: Record<string, EntryPoint> = {
  'rule auto-run': ({ text, host }) => ({
    origin: { kind: 'ward', on: { rule: 'ssh-brute-force' } },
    ask: { text },
    replyTo: { channel: CHANNEL, threadTs: '1.000' },
    correlationId: 'c-auto',
    automation: { type: 'alert.auto_run', hosts: [host], details: { fingerprint: 'fp' } },
  }),
  'cloud tag watcher': ({ text, host, reason }) => ({
    origin: { kind: 'ward', on: { watcher: 'cloud-tags' } },
    ask: text.includes('--')
      ? { text }
      : { command: 'isolate', args: { host }, reason, text: `isolate ${host}` },
    replyTo: { channel: CHANNEL },
    correlationId: 'c-watch',
    automation: { type: 'cloud.watch.opened', hosts: [host], details: {} },
  }),
};

type Decision = 'pending' | 'approved' | 'dry_run' | `refused:${string}` | `invalid:${string}`;
const decide = (o: RequestOutcome): Decision => {
  if (o.status === 'submitted') return o.requestStatus === 'pending' ? 'pending' : 'approved';
  if (o.status === 'dry_run') return 'dry_run';
  if (o.status === 'failed') return `${o.outcome === 'refused' ? 'refused' : 'invalid'}:${o.code}`;
  return 'approved';
};

interface Case {
  name: string;
  policy: CommandPolicyOverride;
  /** The person who asks (ward's own requests ignore it). */
  user?: string;
  flags?: string;
  reason?: string | undefined;
  person: Decision;
  ward: Decision;
}

const base: CommandPolicyOverride = { allow: ['responder'], approvals: 0, mfa: 'none', auto: true };
const cases: Case[] = [
  { name: 'allowed, no approval needed', policy: base, person: 'approved', ward: 'approved' },
  {
    name: 'allowed, one approval needed',
    policy: { ...base, approvals: 1, approvers: ['admin'] },
    person: 'pending',
    ward: 'pending',
  },
  {
    name: 'role refused',
    policy: base,
    user: OUTSIDER,
    person: 'refused:ward_permission_denied',
    // ward holds no role; what lets it ask is `auto: true`.
    ward: 'approved',
  },
  {
    name: 'reason missing',
    policy: { ...base, reason: 'required' },
    reason: undefined,
    person: 'invalid:ward_user_input',
    ward: 'invalid:ward_user_input',
  },
  {
    name: 'break-glass on a hard policy',
    policy: { ...base, enforcement: 'hard', breakGlass: ['admin'] },
    flags: '--break-glass',
    person: 'invalid:ward_user_input',
    ward: 'refused:ward_auto_refused',
  },
  {
    name: 'auto not allowed',
    policy: { ...base, auto: false },
    person: 'approved',
    ward: 'refused:ward_auto_refused',
  },
  {
    name: 'requester MFA needed, asked by an automation',
    policy: { ...base, mfa: 'requester' },
    person: 'pending',
    ward: 'refused:ward_auto_refused',
  },
  { name: 'dry run', policy: base, flags: '--dry-run', person: 'dry_run', ward: 'dry_run' },
];

describe('one request pipeline: every entry point × origin × policy case', () => {
  for (const c of cases) {
    for (const [entryName, entry, kind] of [
      ...Object.entries(byPerson).map(([n, e]) => [n, e, 'person'] as const),
      ...Object.entries(byWard).map(([n, e]) => [n, e, 'ward'] as const),
    ]) {
      it(`${c.name} · ${entryName} (${kind}) → ${kind === 'person' ? c.person : c.ward}`, async () => {
        const { services } = world(c.policy);
        const reason = 'reason' in c ? c.reason : 'alert SSH brute force (fp1)';
        const text = `isolate web1${reason === undefined ? '' : ` --reason "${reason}"`}${c.flags ? ` ${c.flags}` : ''}`;
        const input = entry({ user: c.user ?? RESPONDER, text, host: 'web1', reason });
        const outcome = await openRequest(services, input);
        expect(decide(outcome)).toBe(kind === 'person' ? c.person : c.ward);
      });
    }
  }

  it('ward asks as its own user, audits the automation once, and never whispers to itself', async () => {
    const { services, audited } = world(base);
    const outcome = await openRequest(
      services,
      byWard['rule auto-run']!({ user: '', text: 'isolate web1 --reason "x"', host: 'web1' }),
    );
    expect(outcome.status).toBe('submitted');
    expect(audited.filter((e) => e.type === 'alert.auto_run')).toMatchObject([
      { actor: WARD, outcome: 'submitted', hosts: ['web1'] },
    ]);
    expect(audited.find((e) => e.type === 'approval.requested')).toMatchObject({ actor: WARD });
  });

  it('a refused automation is audited under its own record with the reason', async () => {
    const { services, audited } = world({ ...base, auto: false });
    await openRequest(
      services,
      byWard['rule auto-run']!({ user: '', text: 'isolate web1 --reason "x"', host: 'web1' }),
    );
    const refused = audited.find((e) => e.type === 'alert.auto_run');
    expect(refused).toMatchObject({ outcome: 'refused', hosts: ['web1'] });
    expect(String(refused?.details?.['why'])).toContain('not marked `auto: true`');
    expect(audited.some((e) => e.type.startsWith('approval.'))).toBe(false);
  });

  describe('the incident buttons ask for the `incident` command like anyone typing it', () => {
    const ref = '0f0e0d0c-0b0a-4908-8706-050403020100';
    const click = (user: string, actionId: string, value: string): ActionEvent => ({
      user,
      actionId,
      value,
      channel: CHANNEL,
      messageTs: '1.000',
      triggerId: 't-inc',
      responseUrl: 'http://127.0.0.1:9/r',
      requestId: 'c-incident',
    });
    const rows: Array<[string, ActionEvent, Decision]> = [
      [
        'Open incident, outsider',
        click(OUTSIDER, 'incident.open_alert', JSON.stringify({ ref })),
        'refused:ward_permission_denied',
      ],
      ['Retry, outsider', click(OUTSIDER, 'incident.resume', 'INC-1'), 'refused:ward_permission_denied'],
      // Allowed, and then the command itself answers: the alert is no longer kept (nothing opened).
      [
        'Open incident, responder, alert gone',
        click(RESPONDER, 'incident.open_alert', JSON.stringify({ ref })),
        'invalid:ward_user_input',
      ],
      // A value cannot smuggle flags in: it is the subject, checked as an incident id.
      [
        'Retry, responder, hostile value',
        click(RESPONDER, 'incident.resume', 'INC-1 --dry-run'),
        'invalid:ward_user_input',
      ],
    ];
    for (const [name, event, expected] of rows) {
      it(`${name} → ${expected}`, async () => {
        const { services, audited } = world(base, [incidentCommand]);
        const outcome = await openRequest(services, incidentButtonRequest(event));
        expect(outcome.command).toBe('incident');
        expect(decide(outcome)).toBe(expected);
        if (expected.startsWith('refused')) {
          expect(audited.find((e) => e.type === 'command.refused')).toMatchObject({ actor: OUTSIDER });
        }
      });
    }

    it('a malformed Open incident button opens nothing and says so', () => {
      expect(() => incidentButtonRequest(click(RESPONDER, 'incident.open_alert', '{"ref":"../x"}'))).toThrow(
        /malformed/,
      );
    });
  });
});

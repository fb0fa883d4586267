import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../commands/index.js';
import { MemoryStore } from '../../src/adapters/memory/memory-store.js';
import { shellQuote } from '../../src/adapters/ssh/shell-quote.js';
import { loadConfig } from '../../src/config/env.js';
import { inventorySchema, toInventory } from '../../src/config/inventory.js';
import type { CommandServices, ExecutionReport, Plan } from '../../src/core/command.js';
import { ExecutionLedger } from '../../src/core/executions.js';
import { CommandRegistry } from '../../src/core/registry.js';
import { parseCommandText } from '../../src/core/requests/parse-command.js';
import type { ChatClient } from '../../src/ports/chat.js';
import type {
  ExecOptions,
  ExecResult,
  HostTarget,
  RemoteShell,
  ShellSession,
} from '../../src/ports/remote-shell.js';

/**
 * A plan is what runs. Every SSH command ward has is planned, then executed against a recording shell (the port the
 * SSH adapter implements): each command the shell receives, argv and stdin, must be one of the lines the plan
 * showed for that host. The match is re-derived here from what the shell received (words quoted as the adapter
 * quotes them; an inline stdin byte for byte; a script's body against the sha256 its plan line names), not from
 * ward's own display function, so a step that showed one thing and sent another fails this test.
 */

const HOST = 'web1';
let runs = 0;
const PLAIN = /^[A-Za-z0-9_./:=@%+,-]+$/;
const words = (argv: readonly string[]) => argv.map((w) => (PLAIN.test(w) ? w : shellQuote(w))).join(' ');

interface Received {
  host: string;
  argv: readonly string[];
  stdin: string | undefined;
}

/** A host that behaves like one: ward's tables come and go, a process dies when killed. */
class FakeHost {
  tables = new Set<string>();
  elements = new Set<string>();
  killed = new Set<string>();

  answer(argv: readonly string[], stdin: string | undefined): Partial<ExecResult> {
    const line = argv.join(' ');
    const table = /^nft (?:list|delete) table inet (\S+)$/.exec(line)?.[1];
    if (table !== undefined) {
      if (!this.tables.has(table)) return { code: 1 };
      if (argv[1] === 'delete') this.tables.delete(table);
      return { code: 0, stdout: Buffer.from(`table inet ${table} {\n}\n`) };
    }
    if (line === 'nft -f -') {
      for (const m of (stdin ?? '').matchAll(/^table inet (\S+) \{$/gm)) this.tables.add(m[1]!);
      return { code: 0 };
    }
    const el = /^nft (get|add|delete) element inet (.+)$/.exec(line);
    if (el) {
      const key = el[2]!;
      if (el[1] === 'get') return { code: this.elements.has(key) ? 0 : 1 };
      if (el[1] === 'add') this.elements.add(key);
      else this.elements.delete(key);
      return { code: 0 };
    }
    if (argv[0] === 'sh' && argv[1] === '-c' && argv[2]?.startsWith('setsid')) {
      return { code: 0, stdout: Buffer.from('4242\n') };
    }
    if (argv[0] === 'sh' && argv[1] === '-c' && argv[2]?.includes('/run/systemd/system')) {
      return { code: 0, stdout: Buffer.from('systemd\n') };
    }
    const stat = /^cat \/proc\/(\d+)\/stat$/.exec(line)?.[1];
    if (stat !== undefined) {
      return this.killed.has(stat) ? { code: 1 } : { code: 0, stdout: Buffer.from(`${stat} (evil) S 1 1 1`) };
    }
    if (argv[0] === 'kill' && argv[2] !== '--') this.killed.add(argv[2]!);
    if (line === 'getent passwd mallory') {
      return { code: 0, stdout: Buffer.from('mallory:x:1001:1001::/home/mallory:/bin/sh\n') };
    }
    if (line === 'getent shadow mallory') {
      return { code: 0, stdout: Buffer.from('mallory:$6$salt$hash:19000:0:99999:7:::\n') };
    }
    if (line === 'pgrep -u mallory') return { code: 0, stdout: Buffer.from('555\n') };
    return { code: 0 };
  }
}

/** The RemoteShell port, recording what each session is asked to run. */
function recordingShell(host: FakeHost, received: Received[]): RemoteShell {
  return {
    async connect(target: HostTarget): Promise<ShellSession> {
      return {
        host: target,
        async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
          const stdin = options.stdin === undefined ? undefined : options.stdin.toString();
          received.push({ host: target.name, argv: [...argv], stdin });
          const a = host.answer(argv, stdin);
          return {
            code: a.code ?? 0,
            stdout: a.stdout ?? Buffer.alloc(0),
            stderr: Buffer.alloc(0),
            truncated: false,
            timedOut: false,
            durationMs: 1,
          };
        },
        async close() {},
      };
    },
  };
}

/**
 * Does `line` (as the plan shows it) describe exactly this received command? Words first (a `-<…>` placeholder
 * stands for a number printed at run time); then the stdin: inline after `<<<`, or after `<` a script whose body
 * must hash to the sha256 shown, or a named file whose content is decided at run time.
 */
function shows(line: string, r: Received): boolean {
  const sent = words(r.argv);
  const inline = line.indexOf(' <<< ');
  const labelled = line.indexOf(' < ');
  const cut = inline !== -1 ? inline : labelled;
  const shownWords = cut === -1 ? line : line.slice(0, cut);
  const pattern = new RegExp(
    `^${shownWords
      .split(/(-<[^>]+>)/)
      .map((part, i) => (i % 2 === 1 ? '-\\d+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
  );
  if (!pattern.test(sent)) return false;
  if (cut === -1) return r.stdin === undefined;
  if (r.stdin === undefined) return false;
  if (inline !== -1) return line.slice(inline + 5) === shellQuote(r.stdin);
  const label = line.slice(labelled + 3);
  const hash = /script \(sha256 ([0-9a-f]{16})…/.exec(label)?.[1];
  if (hash === undefined) return true; // a ruleset or unit file: the label names it, `nft -c` checks it
  const body = r.stdin.slice(r.stdin.indexOf('PATH=/usr/local/sbin'));
  return createHash('sha256').update(body).digest('hex').startsWith(hash);
}

const CASES: Array<{ text: string; before?: (h: FakeHost) => void; outcome?: ExecutionReport['outcome'] }> = [
  { text: `lockdown ${HOST} --reason test` },
  { text: `release ${HOST} --reason test`, before: (h) => h.tables.add('ward_lockdown') },
  { text: `block-ip ${HOST} 203.0.113.7 --reason test` },
  { text: `block-port ${HOST} 8080 --reason test` },
  {
    text: `unblock-port ${HOST} 8080 --reason test`,
    before: (h) => h.elements.add('ward_ports tcp_closed { 8080 }'),
  },
  { text: `kill-process ${HOST} 4321 --reason test` },
  { text: `disable-user ${HOST} mallory --reason test` },
  { text: `forensics ${HOST}` },
  // No real host answers the hunt script here: the host is reported failed (never clean), after running it.
  { text: `hunt ${HOST} sha256:${'ab'.repeat(32)} file:/tmp/x`, outcome: 'failed' },
];

describe('a plan is what runs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ward-plan-runs-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function world(fake: FakeHost, received: Received[]): CommandServices {
    const log = pino({ level: process.env.PLAN_TEST_LOG ?? 'silent' });
    const store = new MemoryStore();
    let ts = 0;
    const chat = new Proxy(
      {},
      {
        get: () => async () => ({ channel: 'C0PLAN', ts: `${++ts}.000`, fileId: 'F1' }),
      },
    ) as ChatClient;
    const inventory = toInventory(
      inventorySchema.parse({
        management: { cidrs: ['198.51.100.1/32'] },
        hosts: { [HOST]: { address: '198.51.100.11', hostKey: `SHA256:${'A'.repeat(43)}` } },
      }),
    );
    return {
      config: loadConfig({
        SLACK_BOT_TOKEN: 'xoxb-1-2-abc',
        SLACK_SIGNING_SECRET: 'abcdef0123456789',
        WARD_EVIDENCE_DIR: dir,
      }),
      log,
      store,
      chat,
      clock: { now: () => Date.now() },
      audit: { record: async () => {}, recent: async () => [] },
      policy: {} as CommandServices['policy'],
      commands: new CommandRegistry(commands),
      inventory: () => inventory,
      shell: recordingShell(fake, received),
      mailer: { enabled: false, send: async () => ({ id: '' }) },
      executions: new ExecutionLedger(store, log, 15_000),
      mfa: {} as CommandServices['mfa'],
      requests: { get: async () => undefined, cancel: async () => {}, openAs: async () => {} },
      incidents: {} as CommandServices['incidents'],
    };
  }

  async function planAndRun(
    services: CommandServices,
    text: string,
    tamper?: (plan: Plan) => void,
  ): Promise<{ plan: Plan; report: ExecutionReport }> {
    const { command, args, flags } = parseCommandText(services, text);
    const invocation = { user: 'U0RESPOND', channel: 'C0PLAN', text, requestId: 'req-plan' };
    const reply = {
      ephemeral: async () => {},
      inChannel: async () => ({ ts: '1.000', channel: 'C0PLAN' }),
    };
    const plan: Plan = await command.plan!({ args, flags, invocation, reply, services });
    tamper?.(plan);
    const report: ExecutionReport = await command.execute!({
      args,
      flags,
      invocation,
      reply,
      services,
      plan,
      // Each run its own request id: evidence directories are per request and never overwritten.
      approvalRequestId: `AR-PLAN-${++runs}`,
      thread: { channel: 'C0PLAN', ts: '1.000' },
      signal: new AbortController().signal,
    });
    return { plan, report };
  }

  it.each(CASES)('$text: every command the host receives is a line of the plan', async (c) => {
    const fake = new FakeHost();
    c.before?.(fake);
    const received: Received[] = [];
    const { plan, report } = await planAndRun(world(fake, received), c.text);
    expect(report.summary).not.toMatch(/approved plan does not show/);
    expect(report.outcome).toBe(c.outcome ?? 'succeeded');
    expect(received.length).toBeGreaterThan(0);
    const lines = plan.steps.filter((s) => s.host === HOST).flatMap((s) => s.commands);
    const unshown = received.filter((r) => !lines.some((line) => shows(line, r)));
    expect(unshown.map((r) => `${words(r.argv)}${r.stdin === undefined ? '' : ' <stdin>'}`)).toEqual([]);
  });

  it('a command whose plan line was changed after approval is refused before the host sees it', async () => {
    const fake = new FakeHost();
    const received: Received[] = [];
    const { report } = await planAndRun(
      world(fake, received),
      `block-ip ${HOST} 203.0.113.7 --reason t`,
      (plan) => {
        // The approver saw a different address than the one the executor is about to add.
        for (const s of plan.steps)
          s.commands = s.commands.map((l) => l.replace('203.0.113.7', '203.0.113.8'));
      },
    );
    expect(report.outcome).toBe('failed');
    expect(report.summary).toMatch(
      /refused to run `nft get element inet ward_block blocked4 '\{' 203\.0\.113\.7 '\}'` on web1: the approved plan does not show/,
    );
    expect(received.some((r) => r.argv.includes('203.0.113.7'))).toBe(false);
    expect(fake.elements.size).toBe(0);
  });

  it('a script whose body is not the one whose sha256 the plan shows is refused', async () => {
    const fake = new FakeHost();
    const received: Received[] = [];
    const { report } = await planAndRun(world(fake, received), `forensics ${HOST}`, (plan) => {
      for (const s of plan.steps)
        s.commands = s.commands.map((l) => l.replace(/sha256 [0-9a-f]{16}/, 'sha256 0000000000000000'));
    });
    expect(report.outcome).toBe('failed');
    expect(report.summary).toMatch(
      /refused to run `sh -s < forensics script .* the approved plan does not show/,
    );
    expect(received).toEqual([]);
  });
});

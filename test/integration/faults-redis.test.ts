import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChainedAuditLog } from '../../src/adapters/audit/chained-audit-log.js';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { AUDIT_HEAD_KEY, AUDIT_STREAM, deriveAuditKey } from '../../src/audit/chain.js';
import { systemClock } from '../../src/ports/clock.js';
import {
  ADMIN,
  OPS_ENCRYPTION_KEY,
  type OpsHarness,
  startOpsHarness,
  waitUntil,
} from '../helpers/ops-harness.js';
import type { WardProcess } from '../helpers/ward-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let h: OpsHarness;
let ward: WardProcess;

beforeAll(async () => {
  h = await startOpsHarness({ appendonly: true });
  ward = await h.startWard();
});

afterAll(async () => {
  await h?.stop();
});

async function ready(): Promise<number> {
  return (await fetch(`${ward.url}/readyz`)).status;
}

/** Runs `npm run audit -- <args>` as an operator would; resolves with its exit code and output. */
async function auditCli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/audit.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await once(child, 'exit');
  return { code: child.exitCode, stdout, stderr };
}

// One scenario in steps (Redis goes down, comes back, is restarted): the steps keep their order on purpose.
describe('Redis down, back, restarted', { shuffle: false }, () => {
  it('readyz is 200 with Redis up', async () => {
    await waitUntil(async () => (await ready()) === 200 || undefined, 'readyz 200');
  });

  it('while Redis is down: readyz 503, commands answer that the state store is unavailable, nothing runs', async () => {
    await h.redis.stop();
    await waitUntil(async () => (await ready()) === 503 || undefined, 'readyz 503');
    const body = (await (await fetch(`${ward.url}/readyz`)).json()) as { store: string };
    expect(body.store).toBe('unavailable');

    const connections = h.stuckConnections();
    const posts = h.slack.callsTo('chat.postMessage').length;
    const forensics = await h.slash(ward, 'forensics stuck --reason "redis is down"');
    expect(await h.waitForReply(forensics.responseUrl)).toMatch(/state store is unavailable/);
    const audit = await h.slash(ward, 'audit', { user: ADMIN });
    expect(await h.waitForReply(audit.responseUrl)).toMatch(/state store is unavailable/);
    expect(h.stuckConnections()).toBe(connections);
    // Nothing was posted to any channel: no request, no progress, no result (the only answers are the replies).
    expect(h.slack.callsTo('chat.postMessage')).toHaveLength(posts);
  });

  it('when Redis is back, ward recovers without a restart', async () => {
    await h.redis.start();
    await waitUntil(async () => (await ready()) === 200 || undefined, 'readyz 200 again');
    const audit = await h.slash(ward, 'audit', { user: ADMIN });
    const answer = await h.waitForReply(audit.responseUrl);
    expect(answer).toMatch(/most recent audit entries/);
    expect(ward.child.exitCode).toBeNull();
  });

  it('Redis restarted with appendonly: the audit log and its chain survive', async () => {
    const store = new RedisStore(h.redis.url);
    await store.connect();
    const before = (await store.streamRange(AUDIT_STREAM)).length;
    await store.close();
    expect(before).toBeGreaterThan(0);

    await h.redis.kill(); // a crash: only what the AOF holds survives
    await h.redis.start();
    const after = new RedisStore(h.redis.url);
    await after.connect();
    expect((await after.streamRange(AUDIT_STREAM)).length).toBe(before);
    await after.close();
    const verify = await auditCli(['verify'], {
      REDIS_URL: h.redis.url,
      WARD_ENCRYPTION_KEY: OPS_ENCRYPTION_KEY,
    });
    expect(verify.stdout).toMatch(new RegExp(`audit chain OK: ${before} entries`));
    expect(verify.code).toBe(0);
  });
});

describe('npm run audit -- verify catches tampering', () => {
  /** A fresh, healthy log of n entries (before each test, and after it for whatever runs next). */
  async function seed(n: number) {
    const store = new RedisStore(h.redis.url);
    await store.connect();
    await store.del(AUDIT_STREAM);
    await store.del(AUDIT_HEAD_KEY);
    const audit = new ChainedAuditLog(store, systemClock, deriveAuditKey(OPS_ENCRYPTION_KEY));
    for (let i = 0; i < n; i++) {
      await audit.record({
        type: 'approval.vote',
        actor: 'U0VOTER1',
        requestId: `r-seed${i}`,
        outcome: 'approve',
      });
    }
    await store.close();
  }

  beforeEach(() => seed(5));
  afterEach(() => seed(5));

  it('passes on a healthy log and exports it as JSON Lines', async () => {
    const verify = await auditCli(['verify'], {
      REDIS_URL: h.redis.url,
      WARD_ENCRYPTION_KEY: OPS_ENCRYPTION_KEY,
    });
    expect(verify.code).toBe(0);
    const exported = await auditCli(['export'], {
      REDIS_URL: h.redis.url,
      WARD_ENCRYPTION_KEY: OPS_ENCRYPTION_KEY,
    });
    expect(exported.code).toBe(0);
    const lines = exported.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBe(5);
    expect(lines.at(-1)).toMatchObject({ event: { type: 'approval.vote', requestId: 'r-seed4' } });
    expect(lines.every((l) => typeof l['mac'] === 'string' && typeof l['prev'] === 'string')).toBe(true);
  });

  it('an edited entry (stream rewritten with one entry changed) is named, expected vs found', async () => {
    const redis = new Redis(h.redis.url);
    const entries = await redis.xrange(AUDIT_STREAM, '-', '+');
    const victim = entries.findIndex(([, f]) => f.join(' ').includes('r-seed2'));
    expect(victim).toBeGreaterThan(0);
    for (const [i, [id, flat]] of entries.entries()) {
      const fields = [...flat];
      if (i === victim)
        fields[fields.indexOf('entry') + 1] = fields[fields.indexOf('entry') + 1]!.replace('approve', 'deny');
      await redis.xadd(`${AUDIT_STREAM}:forged`, id, ...fields);
    }
    await redis.rename(`${AUDIT_STREAM}:forged`, AUDIT_STREAM);
    const verify = await auditCli(['verify'], {
      REDIS_URL: h.redis.url,
      WARD_ENCRYPTION_KEY: OPS_ENCRYPTION_KEY,
    });
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain(`BROKEN at entry ${entries[victim]![0]}`);
    expect(verify.stderr).toMatch(/edited/);
    expect(verify.stderr).toMatch(/expected: mac [0-9a-f]{64}\n {2}found: {4}mac [0-9a-f]{64}/);
    // Put the original back for the next test.
    await redis.del(AUDIT_STREAM);
    for (const [id, flat] of entries) await redis.xadd(AUDIT_STREAM, id, ...flat);
    expect(
      (await auditCli(['verify'], { REDIS_URL: h.redis.url, WARD_ENCRYPTION_KEY: OPS_ENCRYPTION_KEY })).code,
    ).toBe(0);
    await redis.quit();
  });

  it('a forged entry appended with XADD is caught', async () => {
    const redis = new Redis(h.redis.url);
    const [[, flat]] = (await redis.xrevrange(AUDIT_STREAM, '+', '-', 'COUNT', 1)) as [[string, string[]]];
    const id = await redis.xadd(AUDIT_STREAM, '*', ...flat); // a replay of the last entry
    const verify = await auditCli(['verify'], {
      REDIS_URL: h.redis.url,
      WARD_ENCRYPTION_KEY: OPS_ENCRYPTION_KEY,
    });
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain(`BROKEN at entry ${id}`);
    await redis.xdel(AUDIT_STREAM, id!);
    await redis.quit();
  });

  it('a deleted entry (XDEL) is caught and the entry after the gap named', async () => {
    const redis = new Redis(h.redis.url);
    const entries = await redis.xrange(AUDIT_STREAM, '-', '+');
    await redis.xdel(AUDIT_STREAM, entries[2]![0]);
    const verify = await auditCli(['verify'], {
      REDIS_URL: h.redis.url,
      WARD_ENCRYPTION_KEY: OPS_ENCRYPTION_KEY,
    });
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain(`BROKEN at entry ${entries[3]![0]}`);
    expect(verify.stderr).toMatch(/missing before this one/);
    await redis.quit();
  });

  it('without WARD_ENCRYPTION_KEY verify cannot check the keyed chain: exit 2 and why', async () => {
    const verify = await auditCli(['verify'], { REDIS_URL: h.redis.url });
    expect(verify.code).toBe(2);
    expect(verify.stderr).toMatch(/WARD_ENCRYPTION_KEY is not set.*needs the same key ward uses/);
  });

  it('the newest entries cut off with the head moved back pass alone, and fail against the published anchor', async () => {
    const env = { REDIS_URL: h.redis.url, WARD_ENCRYPTION_KEY: OPS_ENCRYPTION_KEY };
    const anchor = /head (\d+:[0-9a-f]{64})/.exec((await auditCli(['verify'], env)).stdout)![1]!;
    const redis = new Redis(h.redis.url);
    const entries = await redis.xrange(AUDIT_STREAM, '-', '+');
    const [, keptFields] = entries.at(-3)!;
    const kept = JSON.parse(keptFields[keptFields.indexOf('entry') + 1]!) as { seq: number };
    const keptMac = keptFields[keptFields.indexOf('mac') + 1]!;
    for (const [id] of entries.slice(-2)) await redis.xdel(AUDIT_STREAM, id);
    await redis.set(AUDIT_HEAD_KEY, `${kept.seq}:mac:${keptMac}`);
    await redis.quit();
    expect((await auditCli(['verify'], env)).code).toBe(0);
    const against = await auditCli(['verify', '--anchor', anchor], env);
    expect(against.code).toBe(1);
    expect(against.stderr).toMatch(/ends before a published anchor/);
  });

  it('without REDIS_URL there is nothing to verify: exit 2 and why', async () => {
    const verify = await auditCli(['verify'], {});
    expect(verify.code).toBe(2);
    expect(verify.stderr).toMatch(/in-process store.*nothing to verify/);
  });
});

/**
 * `npm run doctor` checks a deployment against the real things: the fake Slack (auth.test and its x-oauth-scopes
 * header), a real redis-server, and real sshd hosts in the lab with their pinned keys.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckResult, manifestScopes, renderTable, runDoctor } from '../../src/cli/doctor.js';
import { type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { type RedisProcess, startRedis } from '../helpers/redis-server.js';
import { describeLab, type Lab, labUp } from '../lab/lab.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HTTP_SCOPES = manifestScopes(join(ROOT, 'slack/manifest.yaml'));
const KEY = 'a'.repeat(64);

const row = (results: CheckResult[], check: string): CheckResult | undefined =>
  results.find((r) => r.check === check);

function baseEnv(slack: FakeSlack, redisUrl: string): Record<string, string> {
  return {
    SLACK_BOT_TOKEN: 'xoxb-doctor-test',
    SLACK_SIGNING_SECRET: 'doctor-signing-secret',
    SLACK_API_URL: slack.url + 'api/',
    REDIS_URL: redisUrl,
    WARD_ENCRYPTION_KEY: KEY,
    WARD_POLICY: join(ROOT, 'examples/policy.yaml'),
  };
}

describe('ward doctor: Slack, Redis, MFA', () => {
  let fullSlack: FakeSlack;
  let shortSlack: FakeSlack;
  let persistent: RedisProcess;
  let volatile: RedisProcess;

  beforeAll(async () => {
    [fullSlack, shortSlack, persistent, volatile] = await Promise.all([
      startFakeSlack({ scopes: HTTP_SCOPES }),
      startFakeSlack({ scopes: HTTP_SCOPES.filter((s) => s !== 'usergroups:read') }),
      startRedis({ appendonly: true }),
      startRedis(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([fullSlack?.close(), shortSlack?.close(), persistent?.stop(), volatile?.stop()]);
  });

  it('passes a deployment with the manifest scopes, a persistent Redis and an encryption key', async () => {
    const results = await runDoctor(baseEnv(fullSlack, persistent.url));
    expect(results.filter((r) => r.status === 'fail')).toEqual([]);
    expect(row(results, 'Slack bot token')?.status).toBe('ok');
    expect(row(results, 'Slack scopes')).toMatchObject({ status: 'ok' });
    expect(row(results, 'Redis')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('appendonly yes'),
    });
    expect(row(results, 'MFA')?.status).toBe('ok');
    expect(row(results, 'policy file')?.status).toBe('ok');
    expect(renderTable(results)).toMatch(/all checks passed/);
  });

  it('names a scope the token lacks, a Redis without persistence and TOTP without a key', async () => {
    const env = baseEnv(shortSlack, volatile.url);
    delete (env as Record<string, string | undefined>)['WARD_ENCRYPTION_KEY'];
    const results = await runDoctor(env);
    expect(row(results, 'Slack scopes')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('missing usergroups:read'),
    });
    expect(row(results, 'Redis')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('not persistent'),
    });
    expect(row(results, 'MFA')?.status).toBe('fail');
  });

  it('reports a token Slack refuses, an unreachable Redis and an invalid configuration', async () => {
    const refusing = await startFakeSlack({ botToken: 'xoxb-the-real-one', scopes: HTTP_SCOPES });
    try {
      const results = await runDoctor({ ...baseEnv(refusing, 'redis://127.0.0.1:1') });
      expect(row(results, 'Slack bot token')).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining('invalid_auth'),
      });
      expect(row(results, 'Redis')).toMatchObject({
        status: 'fail',
        detail: expect.stringContaining('cannot reach'),
      });
    } finally {
      await refusing.close();
    }
    const bad = await runDoctor({ SLACK_BOT_TOKEN: 'xoxp-user-token', SLACK_SIGNING_SECRET: 'x' });
    expect(bad).toEqual([
      { check: 'configuration', status: 'fail', detail: expect.stringContaining('SLACK_BOT_TOKEN') },
    ]);
  });

  it('as a command, prints the table and exits 1 when a check fails', async () => {
    const env = { ...baseEnv(shortSlack, persistent.url), PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
    const child = spawn(
      process.execPath,
      ['--import', pathToFileURL(`${ROOT}node_modules/tsx/dist/loader.mjs`).href, `${ROOT}src/cli/doctor.ts`],
      { cwd: mkdtempSync(join(tmpdir(), 'ward-doctor-')), env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(out).toMatch(/^Slack scopes\s+FAIL\s+missing usergroups:read/m);
    expect(out).toMatch(/^Redis\s+ok\s+/m);
    expect(out).toMatch(/1 check failed/);
    expect(code).toBe(1);
  }, 60_000);
});

describeLab('ward doctor: inventory hosts over SSH', () => {
  let lab: Lab;
  let slack: FakeSlack;
  let redis: RedisProcess;

  beforeAll(async () => {
    [lab, slack, redis] = await Promise.all([
      labUp({ hosts: ['web1', 'web2'] }),
      startFakeSlack({ scopes: HTTP_SCOPES }),
      startRedis({ appendonly: true }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([lab?.down(), slack?.close(), redis?.stop()]);
  });

  it('connects to each host with its pinned key and fails the one whose key does not match', async () => {
    const [web1, web2] = lab.hosts;
    // web2 pinned with web1's key: what a rebuilt host or a man in the middle looks like.
    const inventory = lab.inventoryYaml().replace(web2!.hostKeyFingerprint, web1!.hostKeyFingerprint);
    const path = join(lab.dir, 'doctor-inventory.yaml');
    writeFileSync(path, inventory);
    const results = await runDoctor({ ...baseEnv(slack, redis.url), WARD_INVENTORY: path });
    expect(row(results, 'inventory file')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('2 hosts'),
    });
    expect(row(results, 'host web1')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('matches'),
    });
    expect(row(results, 'host web2')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining(`its SSH host key is ${web2!.hostKeyFingerprint}`),
    });
  });
});

import { describe, expect, it } from 'vitest';
import { loadConfig, loadRedisConfig } from '../../src/config/env.js';
import { ConfigError } from '../../src/errors.js';

const minimal = { SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: 'abcdef0123456789' };

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig({ ...minimal, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.userMessage;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('Redis configuration', () => {
  it('a Sentinel group: sentinels, group name, and one replica to wait for by default', () => {
    const c = loadConfig({
      ...minimal,
      REDIS_SENTINELS: 's1:26379, s2:26380,10.0.0.3:26379',
      REDIS_SENTINEL_NAME: 'ward',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      REDIS_PASSWORD: 'redis-secret',
    });
    expect(c.redis).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
        { host: '10.0.0.3', port: 26379 },
      ],
      name: 'ward',
      sentinelPassword: 'sentinel-secret',
      password: 'redis-secret',
      tls: false,
      minReplicas: 1,
      durableTimeoutMs: 1000,
    });
  });

  it('rediss:// sentinels turn TLS on; WARD_REDIS_MIN_REPLICAS overrides the default', () => {
    const c = loadConfig({
      ...minimal,
      REDIS_SENTINELS: 'rediss://s1:26379,rediss://s2:26379',
      REDIS_SENTINEL_NAME: 'ward',
      WARD_REDIS_MIN_REPLICAS: '2',
      WARD_REDIS_DURABLE_TIMEOUT_MS: '250',
    });
    expect(c.redis).toMatchObject({ mode: 'sentinel', tls: true, minReplicas: 2, durableTimeoutMs: 250 });
  });

  it('a single REDIS_URL waits for no replica unless asked', () => {
    expect(loadConfig({ ...minimal, REDIS_URL: 'redis://r:6379' }).redis).toMatchObject({
      mode: 'url',
      minReplicas: 0,
    });
    expect(
      loadConfig({ ...minimal, REDIS_URL: 'redis://r:6379', WARD_REDIS_MIN_REPLICAS: '1' }).redis,
    ).toMatchObject({ minReplicas: 1 });
    expect(loadConfig(minimal).redis).toBeUndefined();
  });

  it('names the variable for each mistake, never its value', () => {
    expect(problemsOf({ REDIS_SENTINELS: 's1:26379' })).toContain('REDIS_SENTINEL_NAME: required');
    expect(problemsOf({ REDIS_SENTINELS: 's1', REDIS_SENTINEL_NAME: 'ward' })).toContain(
      'REDIS_SENTINELS: must be a comma-separated list of host:port',
    );
    expect(
      problemsOf({ REDIS_SENTINELS: 'redis://s1:1,rediss://s2:2', REDIS_SENTINEL_NAME: 'ward' }),
    ).toContain('REDIS_SENTINELS:');
    expect(
      problemsOf({ REDIS_URL: 'redis://r:6379', REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'w' }),
    ).toContain('REDIS_URL, REDIS_SENTINELS: set one of them');
    expect(problemsOf({ REDIS_SENTINEL_NAME: 'ward' })).toContain('REDIS_SENTINEL_NAME: only used with');
    expect(problemsOf({ WARD_REDIS_MIN_REPLICAS: 'two' })).toContain('WARD_REDIS_MIN_REPLICAS:');
    const leaked = problemsOf({ REDIS_SENTINEL_PASSWORD: 'TOP-SECRET-VALUE' });
    expect(leaked).toContain('REDIS_SENTINEL_PASSWORD: only used with REDIS_SENTINELS');
    expect(leaked).not.toContain('TOP-SECRET-VALUE');
  });

  it('the audit CLI reads the same Redis variables without the Slack ones', () => {
    expect(loadRedisConfig({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'ward' })).toMatchObject({
      mode: 'sentinel',
      minReplicas: 1,
    });
    expect(loadRedisConfig({})).toBeUndefined();
    expect(() => loadRedisConfig({ REDIS_SENTINELS: 's1:26379' })).toThrow(ConfigError);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_VARS, loadConfig } from '../../src/config/env.js';
import { ConfigError } from '../../src/errors.js';

const minimal = { SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: 'abcdef0123456789', PORT: '3000' };

describe('loadConfig', () => {
  it('starts with only the bot token, signing secret and port', () => {
    const c = loadConfig(minimal);
    expect(c.PORT).toBe(3000);
    expect(c.socketMode).toBe(false);
    expect(c.REDIS_URL).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('switches to Socket Mode when an app token is set', () => {
    expect(loadConfig({ ...minimal, SLACK_APP_TOKEN: 'xapp-1-A1-123-abc' }).socketMode).toBe(true);
  });

  it('lists every problem at once, by name, and never prints a secret value', () => {
    const secret = 'not-a-bot-token-SECRET-VALUE';
    let err: unknown;
    try {
      loadConfig({
        SLACK_BOT_TOKEN: secret,
        PORT: 'eighty',
        REDIS_URL: 'http://nope',
        SLACK_APP_TOKEN: 'xoxb-wrong-kind',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).userMessage;
    for (const name of ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'PORT', 'REDIS_URL', 'SLACK_APP_TOKEN']) {
      expect(message).toContain(name);
    }
    expect(message).not.toContain(secret);
    expect(message).not.toContain('xoxb-wrong-kind');
    expect(message).toMatch(/xoxb-/); // says what the token should look like
  });

  it('requires all three Duo values when Duo is the MFA provider', () => {
    expect(() => loadConfig({ ...minimal, WARD_MFA_PROVIDER: 'duo', DUO_IKEY: 'x' })).toThrow(
      /DUO_API_HOST, DUO_IKEY, DUO_SKEY/,
    );
  });

  it('.env.example documents exactly the variables ward reads', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const documented = [...example.matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(new Set(documented)).toEqual(new Set(ENV_VARS));
  });
});

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { auditFilterFor } from '../../commands/audit.js';
import { createLogger, withRequestId } from '../../src/log.js';

const BOT_TOKEN = 'xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx';
const SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const BEARER = 'Bearer xoxb-5555555555-6666666666-ZyXwVuTsRqPoNmLkJiHgFeDc';
const TOTP_CODE = '492039';

function capture(knownSecrets: string[] = [SIGNING_SECRET]) {
  let out = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  return { log: createLogger('debug', knownSecrets, stream), output: () => out };
}

describe('ward log output', () => {
  it('never shows a Slack token, the signing secret, an Authorization header or a TOTP code', () => {
    const { log, output } = capture();
    log.info({ token: BOT_TOKEN }, 'token field');
    log.info(`free text quoting ${BOT_TOKEN} and the secret ${SIGNING_SECRET}`);
    log.info(
      { req: { headers: { authorization: BEARER, 'x-slack-signature': `v0=${'a'.repeat(64)}` } } },
      'headers',
    );
    log.info({ deeply: { nested: { request: { headers: { Authorization: BEARER } } } } }, 'deep header');
    log.info({ mfaCode: TOTP_CODE }, 'mfa attempt');
    log.info({ view: { values: { mfa: { totp: TOTP_CODE } } } }, 'modal values');
    log.warn({ otp: TOTP_CODE, passcode: TOTP_CODE }, 'duo');
    const err = Object.assign(new Error(`an API call with ${BOT_TOKEN} failed`), {
      data: { headers: { authorization: BEARER } },
    });
    log.error({ err }, 'failure');
    log.info(
      { env: { SLACK_SIGNING_SECRET: SIGNING_SECRET, apiKey: 'key-0123456789abcdef0123456789abcdef' } },
      'env',
    );
    const text = output();
    for (const secret of [
      BOT_TOKEN,
      SIGNING_SECRET,
      BEARER,
      'xoxb-5555555555',
      TOTP_CODE,
      'key-0123456789',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('[redacted]');
    // What is not secret is still there to debug with.
    expect(text).toContain('mfa attempt');
    expect(text).toContain('an API call with');
  });

  it('every line written while handling a request carries its request id, without passing a child logger', async () => {
    const { log, output } = capture();
    await withRequestId('abc123def456', async () => {
      log.info('first');
      await new Promise((r) => setTimeout(r, 1));
      log.child({ component: 'deep' }).warn('after an await, from a child logger');
    });
    log.info('outside');
    const lines = output()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l['requestId'])).toEqual(['abc123def456', 'abc123def456', undefined]);
  });
});

describe('/ward audit argument', () => {
  it('reads a mention, a user id, a request id or else a host', () => {
    expect(auditFilterFor('<@U012ABCDEF|alice>').filter).toEqual({ actor: 'U012ABCDEF' });
    expect(auditFilterFor('<@W0ABC123>').filter).toEqual({ actor: 'W0ABC123' });
    expect(auditFilterFor('U012ABCDEF').filter).toEqual({ actor: 'U012ABCDEF' });
    expect(auditFilterFor('r-7f3a9c').filter).toEqual({ requestId: 'r-7f3a9c' });
    expect(auditFilterFor('web1').filter).toEqual({ host: 'web1' });
    expect(auditFilterFor(undefined).filter).toEqual({});
  });
});

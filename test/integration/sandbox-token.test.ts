/**
 * The sandbox's page server on 127.0.0.1 is reachable by every user of the machine: its API (which drives ward,
 * reads the demo's messages and MFA codes, and serves forensic bundles) answers only the per-run token that
 * `npm run sandbox` prints in the page's address.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedCall } from '../../src/fake-slack/fake-slack.js';
import { type SandboxHandle, startSandbox } from '../../src/sandbox/sandbox.js';

let sandbox: SandboxHandle;
let base: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  base = new URL(sandbox.url).origin;
}, 60_000);

afterAll(async () => {
  await sandbox?.stop();
});

describe('the sandbox API needs the per-run token', () => {
  it('prints an address that carries a long random token', () => {
    expect(sandbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/);
    expect(new URL(sandbox.url).searchParams.get('token')).toBe(sandbox.token);
  });

  it('refuses every API call and file download without it, or with a wrong one (401)', async () => {
    const wrong = `${sandbox.token.slice(0, -1)}${sandbox.token.endsWith('A') ? 'B' : 'A'}`;
    // The sandbox's Slack records nothing (that is test-only); it still announces each call it answers.
    const answered: RecordedCall[] = [];
    const onCall = (c: RecordedCall) => answered.push(c);
    sandbox.slack.on('call', onCall);
    for (const headers of [{}, { 'x-ward-sandbox-token': wrong }] as Array<Record<string, string>>) {
      for (const path of [
        '/api/state?user=U0DEMORESP',
        '/api/mfa',
        '/api/events?user=U0DEMORESP',
        '/files/F0001',
      ]) {
        expect((await fetch(`${base}${path}`, { headers })).status, path).toBe(401);
      }
      const command = await fetch(`${base}/api/command`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'x-ward-sandbox': '1' },
        body: JSON.stringify({ user: 'U0DEMORESP', text: 'help' }),
      });
      expect(command.status).toBe(401);
    }
    expect((await fetch(`${base}/api/mfa?token=${wrong}`)).status).toBe(401);
    // Nothing reached ward: no command was dispatched.
    sandbox.slack.off('call', onCall);
    expect(answered.filter((c) => c.method === 'response_url')).toEqual([]);
  });

  it('answers with the token, as a header or in the query (EventSource and download links)', async () => {
    const state = await fetch(`${base}/api/state?user=U0DEMORESP`, {
      headers: { 'x-ward-sandbox-token': sandbox.token },
    });
    expect(state.status).toBe(200);
    expect((await fetch(`${base}/api/mfa?token=${sandbox.token}`)).status).toBe(200);
    // The page itself holds nothing of this run and loads without it (it then reads the token from its address).
    expect((await fetch(`${base}/`)).status).toBe(200);
  });
});

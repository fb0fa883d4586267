import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../fakes/fake-slack.js';
import { startWardProcess, type WardProcess } from '../helpers/ward-process.js';

let slack: FakeSlack;
let ward: WardProcess;

beforeAll(async () => {
  slack = await startFakeSlack();
  ward = await startWardProcess({
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: 'test-signing-secret',
    SLACK_API_URL: slack.apiUrl,
  });
});

afterAll(async () => {
  await ward?.stop();
  await slack?.close();
});

describe('requests to paths ward does not serve', () => {
  it('answers 404 and keeps running (a stray POST used to crash ward through Bolt)', async () => {
    for (const path of ['/alerts/nonexistent', '/slack/install', '/', '/slack/events/extra']) {
      const res = await fetch(`${ward.url}${path}`, { method: 'POST', body: '{}' });
      expect(res.status, path).toBe(404);
    }
    const health = await fetch(`${ward.url}/healthz`);
    expect(health.status).toBe(200);
  });
});

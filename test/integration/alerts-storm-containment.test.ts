import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Harness, messageText, startHarness, waitUntil } from '../helpers/remediation-harness.js';
import { describeLab } from '../lab/lab.js';

/*
 * Issue #12.4: a rule auto-running forensics (the README's own example) and a Falco alert for the host every 1.5 s
 * kept every approved kill-process from running ("web1 is busy with request … (forensics)"). Here the same storm
 * runs against a real lab host, with the auto-run interval off (0) so that a collection starts on every alert, and
 * each collection made slow on purpose: web1's /var/log/syslog is a named pipe nobody writes to, so each one hangs
 * until WARD_SSH_COMMAND_TIMEOUT_MS. Reads then overlap without a gap, which is when a change could starve.
 */

const FALCO_TOKEN = 'falco-storm-token-0123';
const ALERT_CHANNEL = 'C0FALCO';
const COMMAND_TIMEOUT_MS = 4000;
const WAIT_SECONDS = 30;

const RULES = `defaults: { storm: { perMinute: 1000 } }
rules:
  - name: falco-auto-forensics
    match: { source: falco }
    route: { channel: ${ALERT_CHANNEL} }
    auto: [forensics]
`;

describeLab('containment during an auto-run storm', () => {
  let h: Harness;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ward-storm-'));
    writeFileSync(join(dir, 'rules.yaml'), RULES);
    h = await startHarness({
      hosts: 1,
      policy: (yaml) =>
        yaml.replace('forensics: { allow: [responder],', 'forensics: { auto: true, allow: [responder],'),
      env: {
        WARD_RULES: join(dir, 'rules.yaml'),
        WARD_ALERT_DEFAULT_CHANNEL: 'C0FALLBACK',
        WARD_ALERT_TOKEN_FALCO: FALCO_TOKEN,
        WARD_AUTO_RUN_INTERVAL_SECONDS: '0',
        WARD_HOST_LOCK_WAIT_SECONDS: String(WAIT_SECONDS),
        WARD_SSH_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
      },
    });
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('an approved kill-process ends the process while forensics keeps being auto-run on the host', async () => {
    expect((await h.lab.execOnHost('web1', ['mkfifo', '/var/log/syslog'])).code).toBe(0);
    await h.lab.execOnHost('web1', ['cp', '/bin/sleep', '/tmp/miner']);
    const pid = await h.lab.spawnOnHost('web1', ['/tmp/miner', '900']);

    // A Falco alert for web1 every 1.5 s, each a new fingerprint (container id), so each auto-runs forensics.
    let storming = true;
    let sent = 0;
    const storm = (async () => {
      while (storming) {
        const res = await fetch(`${h.ward.url}/alerts/falco`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${FALCO_TOKEN}` },
          body: JSON.stringify({
            output: `Outbound connection to a mining pool (container c${sent})`,
            priority: 'Critical',
            rule: 'Outbound connection to mining pool',
            time: new Date().toISOString(),
            hostname: 'web1',
            output_fields: { 'container.id': `c0ffee${String(sent).padStart(6, '0')}` },
          }),
        });
        expect(res.status).toBe(202);
        sent++;
        await new Promise((r) => setTimeout(r, 1500));
      }
    })();

    try {
      // A collection is under way on web1 (and hangs on the pipe for COMMAND_TIMEOUT_MS).
      await waitUntil(
        () =>
          h.slack
            .messages(ALERT_CHANNEL)
            .find((m) => m.text?.startsWith('Running forensics') === true && m.text.includes('web1')),
        'an auto-run forensics running on web1',
      );
      await new Promise((r) => setTimeout(r, 500));

      const before = h.slack.messages().filter((m) => m.text?.startsWith('kill-process:')).length;
      await h.slash(`kill-process web1 ${pid} --reason "cryptominer"`);
      const report = await waitUntil(
        () => h.slack.messages().filter((m) => m.text?.startsWith('kill-process:'))[before],
        'the kill-process report',
        (WAIT_SECONDS + 30) * 1000,
      );
      expect(report.text).toMatch(new RegExp(`✓ web1: process ${pid} \\(.*\\) on web1 was ended with SIG`));
      expect((await h.lab.execOnHost('web1', ['test', '-d', `/proc/${pid}`])).code).not.toBe(0);

      // It waited behind the collection that held web1, and said so in its thread.
      const waited = h
        .thread(report.thread_ts!)
        .find((m) => m.text?.includes('is busy with request') === true);
      expect(waited?.text).toMatch(
        new RegExp(
          `web1 is busy with request r-\\w+ \\(forensics, read-only\\).*waiting up to ${WAIT_SECONDS} s`,
        ),
      );
      // Collections the storm started while it waited queued behind it instead of starving it.
      expect(
        h.slack
          .messages(ALERT_CHANNEL)
          .some((m) => /web1 is reserved for request r-\w+ \(kill-process\)/.test(messageText(m))),
      ).toBe(true);
    } finally {
      storming = false;
      await storm;
    }
    expect(sent).toBeGreaterThan(2);
  }, 120_000);
});

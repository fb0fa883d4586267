import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Harness, messageText, startHarness } from '../helpers/remediation-harness.js';
import { describeLab } from '../lab/lab.js';

const COMMAND_TIMEOUT_MS = 3000;

/** Processes on web1 that ward's hung collection started: the blocked reader and the shells around it. */
async function leftovers(h: Harness): Promise<string[]> {
  const ps = await h.lab.execOnHost('web1', ['ps', '-eo', 'pid,pgid,args'], { timeoutMs: 10_000 });
  return ps.stdout
    .split('\n')
    .filter((l) => /\/var\/log\/syslog|sh -s|ward_run|timeout /.test(l) && !/ps -eo/.test(l));
}

describeLab('an SSH host that hangs mid-command', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ hosts: 1, env: { WARD_SSH_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) } });
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
  }, 30_000);

  it('times the host out, says so in the thread, releases the host and leaves nothing running on it', async () => {
    // /var/log/syslog as a named pipe nobody writes to (log shippers set such pipes up): forensics' system-log
    // section (`tail` of it) blocks in open() for ever. The host's /var/log is its own (see the lab).
    const fifo = await h.lab.execOnHost('web1', ['mkfifo', '/var/log/syslog']);
    expect(fifo.code).toBe(0);

    await h.slash('forensics web1');
    const report = await h.waitForMessage((m) => m.text?.startsWith('forensics: ') === true);
    // The host is reported as failed, naming the limit and the section that hung, not as collected.
    expect(report.text).toMatch(/^forensics: ✗ web1: /);
    expect(report.text).toContain(`did not finish within ${COMMAND_TIMEOUT_MS / 1000} s`);
    expect(report.text).toContain('system-log');
    // In the request's thread, and the request message itself ends as failed, naming why.
    expect(report.thread_ts).toBeDefined();
    const request = h.slack.messages().find((m) => m.ts === report.thread_ts);
    expect(messageText(request!)).toMatch(/^Failed: forensics on web1/);
    expect(messageText(request!)).toContain(`did not finish within ${COMMAND_TIMEOUT_MS / 1000} s`);

    // The summary in the thread lists the hung section and what was never collected.
    const summary = await h.waitForMessage(
      (m) => messageText(m).includes('Forensics on web1') && m.thread_ts === report.thread_ts,
    );
    const text = messageText(summary);
    expect(text).toMatch(/system-log: did not finish: the whole run hit the 3000 ms limit/);
    expect(text).toMatch(/crontabs: not collected: the whole run hit the 3000 ms limit/);
    // What was collected before the hang is kept.
    expect(text).toMatch(/tcp 0\.0\.0\.0:22 sshd/);

    // The execution finished: /ward status shows the request as failed (its one host failed).
    const requestId = /`(r-[a-z0-9]+)`/.exec(text)?.[1];
    expect(requestId).toBeDefined();
    const status = await h.slash(`status ${requestId}`);
    expect(await h.waitForEphemeral(status.responseUrl, (t) => t.includes(requestId!))).toContain(
      `Request ${requestId} (forensics): failed.`,
    );

    // The per-host lock (forensics reads, so it held a shared lease) was released when ward gave up.
    const redis = new Redis(h.redis.url);
    try {
      expect(await redis.get('ward:lock:host:web1')).toBeNull();
      expect(await redis.zcard('ward:lock:host:web1:shared')).toBe(0);
    } finally {
      redis.disconnect();
    }

    // Nothing ward started stays on the host: the blocked `tail`, its per-section `timeout` and the shells around
    // it are gone by ward's deadline (plus the remote backstop's second), not only when the 30 s per-section limit
    // would have stopped them.
    let left = await leftovers(h);
    for (let i = 0; i < 80 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await leftovers(h);
    }
    expect(left).toEqual([]);

    // The host is usable at once: the same command runs to the end once the pipe is gone.
    await h.lab.execOnHost('web1', ['rm', '-f', '/var/log/syslog']);
    await h.slash('forensics web1');
    const second = await h.waitForMessage(
      (m) => m.text?.startsWith('forensics: ') === true && m.ts !== report.ts,
    );
    expect(second.text).toMatch(/^forensics: ✓ web1: /);
  }, 120_000);
});

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisStore } from '../../src/adapters/redis/redis-store.js';
import { readAuditEvents } from '../../src/audit/chain.js';
import { type Harness, messageText, startHarness, waitUntil } from '../helpers/remediation-harness.js';
import { describeLab } from '../lab/lab.js';

describeLab('forensics against a real sshd host', () => {
  let h: Harness;
  let implantPid: number;

  beforeAll(async () => {
    h = await startHarness({ hosts: 1 });
    // An "implant": a copy of sleep started from the host's private /tmp.
    await h.lab.execOnHost('web1', ['cp', '/bin/sleep', '/tmp/kworker-upd']);
    implantPid = await h.lab.spawnOnHost('web1', ['/tmp/kworker-upd', '600']);
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
  }, 30_000);

  it('posts a summary flagging the /tmp process, uploads the bundle, keeps every artifact with its hash and emails the admins', async () => {
    // Tests run in any order: only the audit entries written from here on belong to this collection.
    const auditStore = new RedisStore(h.redis.url);
    await auditStore.connect();
    const entriesBefore = (await readAuditEvents(auditStore).finally(() => auditStore.close())).length;
    const messagesBefore = new Set(h.slack.messages().map((m) => m.ts));
    const filesBefore = h.slack.files().length;
    const { status } = await h.slash('forensics web1 --reason "INC-7 beaconing"');
    expect(status).toBe(200);

    const summary = await h.waitForMessage(
      (m) => !messagesBefore.has(m.ts) && messageText(m).includes('Forensics on web1'),
    );
    const text = messageText(summary);
    expect(text).toContain(`pid \`${implantPid}\``);
    expect(text).toContain('/tmp/kworker-upd');
    expect(text).toContain('runs from /tmp/');
    expect(text).toMatch(/tcp 0\.0\.0\.0:22 sshd/);
    expect(summary.thread_ts).toBeDefined();

    // The bundle is uploaded into the same thread with files.uploadV2.
    const file = await waitUntil(
      () =>
        h.slack
          .files()
          .slice(filesBefore)
          .find((f) => f.name.startsWith('forensics-web1-')),
      'the evidence upload',
    );
    expect(file.thread_ts).toBe(summary.thread_ts);
    expect(h.slack.callsTo('files.getUploadURLExternal').length).toBeGreaterThan(0);
    const bundleSha = createHash('sha256').update(file.bytes).digest('hex');
    expect(text).toContain(bundleSha);

    // The bundle is a real tar.gz whose manifest lists every artifact with its hash, and the hashes hold.
    const extract = join(h.dir, 'extract');
    execFileSync('mkdir', ['-p', extract]);
    execFileSync('tar', ['xzf', '-', '-C', extract], { input: file.bytes });
    const top = file.name.replace(/\.tar\.gz$/, '');
    const manifest = JSON.parse(readFileSync(join(extract, top, 'manifest.json'), 'utf8')) as {
      host: string;
      artifacts: Array<{
        name: string;
        file: string;
        sha256: string;
        command: string;
        status: string;
        exitCode: number | null;
        bytes: number;
        truncated: boolean;
        durationMs: number | null;
      }>;
    };
    expect(manifest.host).toBe('web1');
    const names = manifest.artifacts.map((a) => a.name);
    for (const expected of [
      'logged-in-users',
      'recent-logins',
      'processes',
      'process-executables',
      'listening-sockets',
      'established-connections',
      'open-files',
      'listener-executable-sha256',
      'path-sha256',
      'auth-log',
      'system-log',
      'crontabs',
      'kernel-modules',
      'recently-changed-files',
    ]) {
      expect(names).toContain(expected);
    }
    for (const a of manifest.artifacts) {
      const bytes = readFileSync(join(extract, top, a.file));
      expect(createHash('sha256').update(bytes).digest('hex'), a.name).toBe(a.sha256);
      expect(bytes.length).toBe(a.bytes);
      expect(a.command.length).toBeGreaterThan(0);
      expect(typeof a.truncated).toBe('boolean');
    }
    // The lab host logs to /var/log/auth.log (sshd -E): the file wins over journald, and shows ward's login.
    const auth = manifest.artifacts.find((a) => a.name === 'auth-log')!;
    expect(auth.command).toContain('/var/log/auth.log');
    expect(readFileSync(join(extract, top, auth.file), 'utf8')).toContain('Accepted publickey for root');
    const exes = readFileSync(
      join(extract, top, manifest.artifacts.find((a) => a.name === 'process-executables')!.file),
      'utf8',
    );
    expect(exes).toContain(`${implantPid}\t/tmp/kworker-upd`);

    // The same evidence is on ward's disk with bundle.sha256.
    const hostDir = join(h.evidenceDir);
    const sums = execFileSync('sh', ['-c', 'cat */web1/forensics/bundle.sha256'], {
      cwd: hostDir,
      encoding: 'utf8',
    });
    expect(sums).toContain(bundleSha);

    // The audit log records the collected bundle with the same hash.
    const store = new RedisStore(h.redis.url);
    await store.connect();
    const collected = (await readAuditEvents(store).finally(() => store.close()))
      .slice(entriesBefore)
      .filter((e) => e.type === 'artifact.collected');
    expect(collected.map((e) => [e.hosts, e.details?.['sha256']])).toEqual([[['web1'], bundleSha]]);

    // The admins got the summary by email, with the manifest attached.
    // Other tests email about web1 too: this collection's mail is the one carrying its bundle's hash.
    const mail = await h.mailgun.waitForMessage(
      (m) => m.subject.includes('web1') && m.text.includes(bundleSha),
    );
    expect(mail.to).toEqual(['soc@example.org', 'ciso@example.org']);
    expect(mail.subject).toContain('1 suspicious process');
    expect(mail.text).toContain('/tmp/kworker-upd');
    expect(mail.text).toContain(bundleSha);
    expect(mail.attachments.map((a) => a.filename)).toContain('manifest.json');
  }, 90_000);

  it('reports a missing tool as not installed, not as an empty result', async () => {
    // The lab host shares the machine's files through a private mount namespace: hide lsof on web1 only
    // (a bind-mounted /dev/null is not executable, so `command -v lsof` fails there).
    const hidden = await h.lab.execOnHost('web1', ['mount', '--bind', '/dev/null', '/usr/bin/lsof']);
    expect(hidden.code).toBe(0);
    const before = h.slack.files().length;
    await h.slash('forensics web1');
    const file = await waitUntil(
      () => (h.slack.files().length > before ? h.slack.files().at(-1) : undefined),
      'the second upload',
    );
    const summary = await h.waitForMessage(
      (m) => messageText(m).includes('Forensics on web1') && m.thread_ts === file.thread_ts,
    );
    expect(messageText(summary)).toMatch(/open-files: not installed/);
  }, 90_000);

  it('says in the thread when the email to the admins fails', async () => {
    h.mailgun.failNext(500, 5);
    const before = h.mailgun.failures.length;
    await h.slash('forensics web1');
    const warning = await h.waitForMessage(
      (m) => m.text?.includes('The email to the admins (2 recipients) failed') === true,
    );
    expect(warning.text).toContain('Mailgun answered HTTP 500');
    expect(warning.thread_ts).toBeDefined();
    expect(h.mailgun.failures.length).toBeGreaterThan(before);
    // Tests run in any order: failures this test queued and the sender did not use must not reach the next one.
    h.mailgun.clearFaults();
  }, 90_000);
});

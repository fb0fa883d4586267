import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FakeMessage } from '../fakes/fake-slack.js';
import {
  CHANNEL,
  type Harness,
  messageText,
  RESPONDER,
  SIGNING_SECRET,
  startHarness,
  waitUntil,
} from '../helpers/remediation-harness.js';
import { newTriggerId, sendBlockAction, sendViewSubmission } from '../helpers/slack-requests.js';
import { describeLab } from '../lab/lab.js';

const APPROVER = 'U0APPROVE1';
const IMPLANT = 'ward hunt lab implant: not a real binary\n';
const IMPLANT_SHA = createHash('sha256').update(IMPLANT).digest('hex');

interface HuntLine {
  host: string;
  outcome: string;
  reason?: string;
  findings: Array<{ indicator: string; outcome: string; matches: string[]; note?: string }>;
}

describeLab('hunt across five real sshd hosts', () => {
  let h: Harness;
  let minerPid: number;
  let opensshVersion: string;

  beforeAll(async () => {
    h = await startHarness({
      hosts: 5,
      // /tmp is private to each lab host; /usr/sbin is shared and small. The defaults (/opt, /root…) would hash
      // this whole machine five times over.
      inventory: (yaml) => `${yaml}hunt:\n  paths: ["/tmp", "/usr/sbin"]\n`,
      policy: () =>
        [
          'roles:',
          `  responder: [${RESPONDER}]`,
          `  approver: [${APPROVER}]`,
          `  admin: [${RESPONDER}]`,
          'commands:',
          '  forensics: { allow: [responder], approvals: 0, mfa: none }',
          '  lockdown: { allow: [responder], approvals: 1, approvers: [approver], mfa: none }',
          '  block-port: { allow: [responder], approvals: 0, mfa: none }',
          '',
        ].join('\n'),
    });
    // The same file at two different paths on web2 and web4; a "miner" (a renamed sleep) on web3; web5 unreachable.
    await h.lab.execOnHost('web2', ['sh', '-c', 'mkdir -p /tmp/.cache && cat > /tmp/.cache/kworker-upd'], {
      stdin: IMPLANT,
    });
    await h.lab.execOnHost('web4', ['sh', '-c', 'mkdir -p /tmp/x/y && cat > /tmp/x/y/update.bin'], {
      stdin: IMPLANT,
    });
    await h.lab.execOnHost('web3', ['cp', '/bin/sleep', '/tmp/kdevtmpfsi']);
    minerPid = await h.lab.spawnOnHost('web3', ['/tmp/kdevtmpfsi', '900']);
    await h.lab.stopSshd('web5');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a JS template.
    const q = await h.lab.execOnHost('web1', ['dpkg-query', '-W', '-f=${Version}', 'openssh-server']);
    opensshVersion = q.stdout.trim();
    expect(opensshVersion).toMatch(/^\S+$/);
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  }, 30_000);

  /** Runs a hunt and returns its summary message and its JSONL lines, by host. */
  async function hunt(
    text: string,
    hosts = ['web1', 'web2', 'web3', 'web4', 'web5'],
  ): Promise<{ summary: FakeMessage; id: string; byHost: Map<string, HuntLine> }> {
    const before = h.slack.messages(CHANNEL).length;
    const { status } = await h.slash(text);
    expect(status).toBe(200);
    const summary = await waitUntil(
      () =>
        h.slack
          .messages(CHANNEL)
          .slice(before)
          .find((m) => /^:mag: Hunt \S+: \d+ hits? on/.test(m.text ?? '')),
      'the hunt summary',
      120_000,
    );
    const id = /^:mag: Hunt (\S+):/.exec(summary.text ?? '')![1]!;
    const file = await waitUntil(
      () => h.slack.files().find((f) => f.name === `hunt-${id}.jsonl`),
      'the JSONL upload',
    );
    expect(file.thread_ts).toBe(summary.thread_ts);
    const lines = file.bytes
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as HuntLine);
    // Every host answers exactly once.
    expect(lines.map((l) => l.host).sort()).toEqual(hosts);
    return { summary, id, byHost: new Map(lines.map((l) => [l.host, l])) };
  }

  const outcomes = (byHost: Map<string, HuntLine>) =>
    Object.fromEntries([...byHost].map(([host, l]) => [host, l.outcome]));

  it('a sha256 hunt reports exactly the two hosts holding the file, with their paths; the stopped host is failed', async () => {
    const { summary, id, byHost } = await hunt(`hunt tag:lab sha256:${IMPLANT_SHA} --reason "INC-9 dropper"`);
    expect(outcomes(byHost)).toEqual({
      web1: 'clean',
      web2: 'hit',
      web3: 'clean',
      web4: 'hit',
      web5: 'failed',
    });
    expect(byHost.get('web2')!.findings[0]!.matches).toEqual(['/tmp/.cache/kworker-upd']);
    expect(byHost.get('web4')!.findings[0]!.matches).toEqual(['/tmp/x/y/update.bin']);
    expect(byHost.get('web5')!.reason).toMatch(/refused|reach|connect/i);
    const text = messageText(summary);
    expect(text).toContain('/tmp/.cache/kworker-upd');
    expect(text).toContain('/tmp/x/y/update.bin');
    expect(text).toContain('2 hit');
    expect(text).toMatch(/1 failed/);
    expect(text).toContain('Lock down hits');
    // Both files are uploaded and kept with the evidence, with their sha256.
    const csv = await waitUntil(
      () => h.slack.files().find((f) => f.name === `hunt-${id}.csv`),
      'the CSV upload',
    );
    const csvSha = createHash('sha256').update(csv.bytes).digest('hex');
    expect(text).toContain(csvSha);
    const kept = join(h.evidenceDir, id, 'hunt', `hunt-${id}.csv`);
    expect(existsSync(kept)).toBe(true);
    expect(readFileSync(`${kept}.sha256`, 'utf8')).toContain(csvSha);
  }, 180_000);

  it('a process hunt finds the one host running it, with pid, user and executable', async () => {
    const { byHost } = await hunt('hunt tag:lab process:kdevtmpfsi');
    expect(outcomes(byHost)).toEqual({
      web1: 'clean',
      web2: 'clean',
      web3: 'hit',
      web4: 'clean',
      web5: 'failed',
    });
    const sleepSha = createHash('sha256').update(readFileSync('/bin/sleep')).digest('hex');
    expect(byHost.get('web3')!.findings[0]!.matches).toEqual([
      `pid ${minerPid} user root exe /tmp/kdevtmpfsi sha256 ${sleepSha}`,
    ]);
  }, 180_000);

  it('a hunt stopped by a tiny time cap is partial, not clean', async () => {
    await h.lab.execOnHost('web1', [
      'sh',
      '-c',
      'mkdir -p /tmp/many && cd /tmp/many && seq 1 20000 | xargs touch',
    ]);
    try {
      const { byHost } = await hunt(`hunt web1,web2 sha256:${'e'.repeat(64)} --time-limit 0.05`, [
        'web1',
        'web2',
      ]);
      const web1 = byHost.get('web1');
      expect(web1?.outcome).toBe('partial');
      expect(web1?.reason).toMatch(/time limit/);
    } finally {
      await h.lab.execOnHost('web1', ['rm', '-rf', '/tmp/many']);
    }
  }, 180_000);

  it('refuses an injection attempt in every indicator kind before connecting anywhere', async () => {
    const accepted = () =>
      h.lab.hosts.map((x) => (readFileSync(x.sshdLog, 'utf8').match(/Accepted publickey/g) ?? []).length);
    const before = accepted();
    for (const bad of [
      'sha256:$(reboot)',
      "file:/tmp/x';reboot;'",
      'process:sh;reboot',
      'ip:1.2.3.4`reboot`',
      'port:22|reboot',
      'user:root$(reboot)',
      'package:bash>=1.0;reboot',
    ]) {
      const { responseUrl } = await h.slash(`hunt tag:lab "${bad}"`);
      const reply = await h.waitForEphemeral(responseUrl, (t) => t.includes('Usage'));
      expect(reply).toContain('`indicators`');
      expect(reply).toContain('/ward hunt');
    }
    expect(accepted()).toEqual(before);
  }, 120_000);

  it('Lock down hits opens one request naming exactly the two hit hosts; after one approval both are locked down', async () => {
    const { summary, id } = await hunt(`hunt tag:lab sha256:${IMPLANT_SHA}`);
    const before = h.slack.messages(CHANNEL).length;
    await sendBlockAction(`${h.ward.url}/slack/events`, SIGNING_SECRET, {
      user_id: RESPONDER,
      action_id: 'hunt.lockdown',
      value: JSON.stringify({ hunt: id }),
      channel_id: CHANNEL,
      message_ts: summary.ts,
      trigger_id: newTriggerId(),
      response_url: h.slack.newResponseUrl({ channel: CHANNEL, user: RESPONDER }),
    });
    const approval = await waitUntil(
      () =>
        h.slack
          .messages(CHANNEL)
          .slice(before)
          .find((m) => JSON.stringify(m.blocks ?? []).includes('approval.approve')),
      'the lockdown approval message',
    );
    const shown = messageText(approval);
    expect(shown).toContain('web2');
    expect(shown).toContain('web4');
    for (const other of ['web1', 'web3', 'web5']) expect(shown).not.toContain(other);
    const requestId = /\(request (\S+?)\)/.exec(approval.text ?? '')?.[1] ?? '';
    try {
      await sendBlockAction(`${h.ward.url}/slack/events`, SIGNING_SECRET, {
        user_id: APPROVER,
        action_id: 'approval.approve',
        value: requestId,
        channel_id: CHANNEL,
        message_ts: approval.ts,
        trigger_id: newTriggerId(),
        response_url: h.slack.newResponseUrl({ channel: CHANNEL, user: APPROVER, messageTs: approval.ts }),
      });
      await waitUntil(
        async () => {
          const [a, b] = await Promise.all(
            ['web2', 'web4'].map((n) =>
              h.lab.execOnHost(n, ['nft', 'list', 'table', 'inet', 'ward_lockdown']),
            ),
          );
          return a!.code === 0 && b!.code === 0 ? true : undefined;
        },
        'both hits locked down',
        120_000,
      );
      expect(
        (await h.lab.execOnHost('web1', ['nft', 'list', 'table', 'inet', 'ward_lockdown'])).code,
      ).not.toBe(0);
      expect(await h.lab.canConnect(h.lab.attacker.ns, h.lab.hosts[1]!.address, 8080)).toBe(false);
      expect(await h.lab.canConnect(h.lab.mgmt.ns, h.lab.hosts[1]!.address, 22)).toBe(true);
    } finally {
      for (const n of ['web2', 'web4'])
        await h.lab.execOnHost(n, ['nft', 'delete', 'table', 'inet', 'ward_lockdown']);
    }
  }, 300_000);

  it('a package hunt compares the installed version; Close a port on hits closes 8080 there and management keeps SSH', async () => {
    const miss = await hunt(`hunt tag:lab package:openssh-server<${opensshVersion}`);
    expect(outcomes(miss.byHost)).toEqual({
      web1: 'clean',
      web2: 'clean',
      web3: 'clean',
      web4: 'clean',
      web5: 'failed',
    });
    expect(miss.byHost.get('web1')!.findings[0]!.note).toContain(opensshVersion);

    const { summary, id, byHost } = await hunt(
      `hunt web1,web3,web5 package:openssh-server=${opensshVersion}`,
      ['web1', 'web3', 'web5'],
    );
    expect([...byHost].filter(([, l]) => l.outcome === 'hit').map(([host]) => host)).toEqual([
      'web1',
      'web3',
    ]);
    expect(byHost.get('web1')!.findings[0]!.matches[0]).toBe(
      `openssh-server ${opensshVersion} installed (dpkg)`,
    );

    const before = h.slack.callsTo('views.open').length;
    await sendBlockAction(`${h.ward.url}/slack/events`, SIGNING_SECRET, {
      user_id: RESPONDER,
      action_id: 'hunt.block-port',
      value: JSON.stringify({ hunt: id }),
      channel_id: CHANNEL,
      message_ts: summary.ts,
      trigger_id: newTriggerId(),
    });
    await waitUntil(
      () => (h.slack.callsTo('views.open').length > before ? true : undefined),
      'the port modal',
    );
    try {
      await sendViewSubmission(`${h.ward.url}/slack/events`, SIGNING_SECRET, {
        user_id: RESPONDER,
        callback_id: 'hunt.block-port',
        private_metadata: JSON.stringify({ hunt: id }),
        values: {
          port: { value: { type: 'plain_text_input', value: '8080' } },
          reason: { value: { type: 'plain_text_input', value: 'INC-9 old sshd' } },
        },
      });
      await waitUntil(
        async () =>
          !(await h.lab.canConnect(h.lab.mgmt.ns, h.lab.hosts[0]!.address, 8080, 500)) &&
          !(await h.lab.canConnect(h.lab.mgmt.ns, h.lab.hosts[2]!.address, 8080, 500))
            ? true
            : undefined,
        '8080 closed on the hits',
        120_000,
      );
      expect(await h.lab.canConnect(h.lab.mgmt.ns, h.lab.hosts[1]!.address, 8080)).toBe(true);
      expect(await h.lab.canConnect(h.lab.mgmt.ns, h.lab.hosts[0]!.address, 22)).toBe(true);
      expect(await h.lab.canConnect(h.lab.mgmt.ns, h.lab.hosts[2]!.address, 22)).toBe(true);
    } finally {
      for (const n of ['web1', 'web3'])
        await h.lab.execOnHost(n, ['nft', 'delete', 'table', 'inet', 'ward_ports']);
    }
  }, 300_000);
});

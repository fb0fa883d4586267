/**
 * Click to action: from the final Approve click (a signed block_actions request) to ward's nftables table in
 * place on a lab host (real sshd and nftables in a network namespace). Policy: 1 approval, MFA none. lockdown
 * first takes a forensic snapshot, then saves the ruleset, starts the on-host watchdog, applies the table with
 * `nft -f -`, opens a NEW connection, checks the table and cancels the watchdog (src/actions/lockdown.ts).
 *
 * Baseline: OpenSSH's own `ssh` client doing the same work with the same remote command lines: the same
 * forensic script on one connection (ControlMaster, so later commands are channels on that connection as in
 * ward), the evidence kept locally as a tar.gz with its sha256, the ruleset saved, the watchdog, `nft -f -`, then a
 * second connection that lists the table and cancels the watchdog. Both go through the lab's ProxyCommand into the
 * management namespace and check pinned host keys.
 *
 * "In place" is seen from the host itself: a poller on the host runs `nft list table inet ward_lockdown` every
 * 20 ms and prints the wall-clock time it first succeeds; the same poller watches ward and the baseline.
 *
 * Run alone: `sudo tsx bench/click-to-action.ts` (needs root for the lab).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  applyLockdown,
  cancelWatchdog,
  listLockdownTable,
  listRuleset,
  startWatchdog,
} from '../src/actions/nft.js';
import { sendBlockAction, sendSlashCommand } from '../test/helpers/slack-requests.js';
import { type Lab, labUp, MGMT_ADDRESS } from '../test/lab/lab.js';
import {
  type BenchResult,
  type Figure,
  forensicsScript,
  labSkipReason,
  mustSsh,
  remoteCommandLine,
  removeDir,
  runAlone,
  runSsh,
  type ServiceProcess,
  SIGNING_SECRET,
  skippedResult,
  sleep,
  sshBaseOptions,
  startInfra,
  startWardService,
  USERS,
  waitUntil,
  workDir,
  writeKnownHosts,
  writePolicy,
} from './lib.js';

const CONFIRM_SECONDS = 60;
const TITLE = 'Click to action (Approve → nftables lockdown in place)';
const METHOD =
  'Final Approve click (signed block_actions; lockdown policy 1 approval, MFA none) → `table inet ward_lockdown` present on a lab host, seen by an on-host poller; lockdown includes its forensic snapshot. Baseline: OpenSSH `ssh` (ProxyCommand into the mgmt namespace, pinned known_hosts) running the same remote command lines in the same order.';

export interface ClickOptions {
  rounds?: number;
}

/** Starts the on-host poller; resolves with the epoch ms at which the table was first listed. */
function watchForTable(lab: Lab, host: string): Promise<number> {
  return lab
    .execOnHost(
      host,
      [
        '/bin/sh',
        '-c',
        'while ! nft list table inet ward_lockdown >/dev/null 2>&1; do sleep 0.02; done; date +%s%N',
      ],
      { timeoutMs: 120_000 },
    )
    .then((r) => {
      const ns = Number(r.stdout.trim());
      if (!Number.isFinite(ns) || ns <= 0) throw new Error(`table poller failed: ${r.stderr}`);
      return ns / 1e6;
    });
}

/** Back to an unlocked host between rounds; fails loudly if a watchdog was left behind. */
async function resetHost(lab: Lab, host: string): Promise<void> {
  await lab.execOnHost(host, ['nft', 'delete', 'table', 'inet', 'ward_lockdown']);
  const left = await lab.execOnHost(host, ['sh', '-c', 'ps -eo args | grep -c "[s]leep 60; nft delete"']);
  if (left.stdout.trim() !== '0') throw new Error(`a lockdown watchdog was left running on ${host}`);
}

export async function run(options: ClickOptions = {}): Promise<BenchResult> {
  const rounds = options.rounds ?? 5;
  const started = Date.now();
  const skip = labSkipReason();
  if (skip) return skippedResult('click-to-action', TITLE, METHOD, skip);

  const dir = workDir('click-to-action');
  const lab = await labUp({ hosts: 1, sshdLogLevel: 'INFO' });
  const infra = await startInfra();
  const { slack } = infra;
  const host = lab.hosts[0]!;
  let ward: ServiceProcess | undefined;
  try {
    const policyPath = join(dir, 'policy.yaml');
    const inventoryPath = join(dir, 'inventory.yaml');
    writePolicy(policyPath, {
      lockdown: { allow: ['responder'], approvals: 1, approvers: ['approver'], mfa: 'none' },
    });
    writeFileSync(inventoryPath, lab.inventoryYaml());
    ward = await startWardService(
      {
        SLACK_API_URL: slack.apiUrl,
        REDIS_URL: infra.redis.url,
        WARD_POLICY: policyPath,
        WARD_INVENTORY: inventoryPath,
        WARD_EVIDENCE_DIR: join(dir, 'evidence'),
        WARD_LOCKDOWN_CONFIRM_SECONDS: String(CONFIRM_SECONDS),
        WARD_SSH_COMMAND_TIMEOUT_MS: '60000',
      },
      join(dir, 'ward.log'),
    );
    const endpoint = `${ward.url}/slack/events`;

    // ---- ward: request, then the timed Approve click ----------------------------------------------------------
    const wardRound = async (round: number) => {
      const channel = `C0CLICK${round}${Date.now() % 100000}`;
      const res = await sendSlashCommand(endpoint, SIGNING_SECRET, {
        text: `lockdown ${host.name} --reason "bench round ${round}"`,
        user_id: USERS.requester,
        channel_id: channel,
        response_url: slack.newResponseUrl({ channel, user: USERS.requester }),
      });
      if (res.status !== 200) throw new Error(`slash command answered HTTP ${res.status}`);
      const message = await waitUntil('the approval message', () =>
        slack.messages(channel).find((m) => !m.thread_ts && /\(request r-[0-9a-f]+\)/.test(m.text ?? '')),
      );
      const id = /\(request (r-[0-9a-f]+)\)/.exec(message.text ?? '')![1]!;
      const inPlace = watchForTable(lab, host.name);
      await sleep(300); // the poller is running before the click
      const t0 = Date.now();
      const click = await sendBlockAction(endpoint, SIGNING_SECRET, {
        user_id: USERS.approver,
        action_id: 'approval.approve',
        value: id,
        channel_id: channel,
        message_ts: message.ts,
        response_url: slack.newResponseUrl({ channel, user: USERS.approver, messageTs: message.ts }),
      });
      if (click.status !== 200) throw new Error(`Approve click answered HTTP ${click.status}`);
      const tableAt = await inPlace;
      const posts = () => slack.callsTo('chat.postMessage').filter((c) => c.args['channel'] === channel);
      const report = await waitUntil(
        "ward's execution report",
        () => posts().find((c) => String(c.args['text'] ?? '').startsWith('lockdown:')),
        120_000,
      ).catch((err: unknown) => {
        // Say what ward did post instead, so a failed round can be diagnosed from the output alone.
        const seen = slack
          .messages(channel)
          .map((m) => `${m.ephemeralFor ? '(ephemeral) ' : ''}${m.text ?? ''}`);
        throw new Error(`${String(err)}; the channel holds: ${JSON.stringify(seen).slice(0, 2000)}`);
      });
      if (!String(report.args['text']).includes(`✓ ${host.name}`)) {
        throw new Error(`lockdown did not succeed: ${String(report.args['text'])}`);
      }
      const summary = posts().find((c) => JSON.stringify(c.args).includes(`Forensics on ${host.name}`));
      await resetHost(lab, host.name);
      return {
        total: tableAt - t0,
        forensics: summary ? summary.at - t0 : Number.NaN,
        done: report.at - t0,
      };
    };

    // ---- baseline: OpenSSH ssh, the same remote command lines ------------------------------------------------
    const knownHosts = join(dir, 'known_hosts');
    writeKnownHosts(lab.dir, lab.hosts, knownHosts);
    const base = sshBaseOptions(lab.proxyCommand, lab.wardKeyPath, knownHosts);
    const script = forensicsScript();
    const cidrs = [`${MGMT_ADDRESS}/32`];
    const target = `root@${host.address}`;
    const baselineRound = async (round: number) => {
      const mux = (path: string) => [
        ...base,
        '-o',
        'ControlMaster=auto',
        '-o',
        `ControlPath=${path}`,
        '-o',
        'ControlPersist=120',
        target,
      ];
      const first = mux(join(dir, `c1-${round}`));
      const second = mux(join(dir, `c2-${round}`));
      const inPlace = watchForTable(lab, host.name);
      await sleep(300);
      const t0 = Date.now();
      // Evidence first, kept as ward keeps it: the output on disk, a tar.gz bundle and its sha256.
      const collected = await mustSsh([...first, script.remote], script.stdin);
      const out = join(dir, `forensics-${round}.out`);
      writeFileSync(out, collected.stdout);
      const bundle = gzipSync(readFileSync(out));
      writeFileSync(`${out}.gz`, bundle);
      createHash('sha256').update(bundle).digest('hex');
      const forensicsAt = Date.now();
      const ruleset = await mustSsh([...first, remoteCommandLine(listRuleset.argv)]);
      writeFileSync(join(dir, `ruleset-${round}.nft`), ruleset.stdout);
      await runSshAllowFail([...first, remoteCommandLine(listLockdownTable.argv)]);
      const watchdog = await mustSsh([...first, remoteCommandLine(startWatchdog(CONFIRM_SECONDS).argv)]);
      const pgid = watchdog.stdout.toString().trim();
      const apply = applyLockdown(cidrs, 22);
      await mustSsh([...first, remoteCommandLine(apply.argv)], apply.stdin ?? '');
      // A NEW connection must get in before the watchdog is cancelled.
      await mustSsh([...second, remoteCommandLine(listLockdownTable.argv)]);
      await mustSsh([...second, remoteCommandLine(cancelWatchdog(pgid).argv)]);
      const doneAt = Date.now();
      const tableAt = await inPlace;
      for (const path of [first, second]) {
        await runSshAllowFail([...path.slice(0, -1), '-O', 'exit', target]);
      }
      await resetHost(lab, host.name);
      return { total: tableAt - t0, forensics: forensicsAt - t0, done: doneAt - t0 };
    };

    // Warm-up round of each, not counted (JIT, first connection through the proxy).
    await wardRound(0);
    await baselineRound(0);
    const w = { total: [] as number[], forensics: [] as number[], done: [] as number[] };
    const b = { total: [] as number[], forensics: [] as number[], done: [] as number[] };
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? ['ward', 'baseline'] : ['baseline', 'ward'];
      for (const who of order) {
        const r = who === 'ward' ? await wardRound(round) : await baselineRound(round);
        const into = who === 'ward' ? w : b;
        into.total.push(r.total);
        into.forensics.push(r.forensics);
        into.done.push(r.done);
      }
    }
    const baseline = (samples: number[]) => ({ name: 'OpenSSH ssh', samples });
    const figures: Figure[] = [
      {
        name: '(a) click → ruleset in place (total, forensics included)',
        unit: 'ms',
        samples: w.total,
        baseline: baseline(b.total),
      },
      {
        name: '(b) click → forensics done (ward: summary posted in the thread)',
        unit: 'ms',
        samples: w.forensics,
        baseline: baseline(b.forensics),
      },
      {
        name: '(c) click → lockdown confirmed (ward: report posted; baseline: watchdog cancelled)',
        unit: 'ms',
        samples: w.done,
        baseline: baseline(b.done),
      },
    ];
    return {
      name: 'click-to-action',
      title: TITLE,
      method: METHOD,
      figures,
      notes: [
        `${rounds} rounds after one warm-up round of each; ward and baseline alternate which goes first.`,
        "ward's (b) also includes writing the evidence bundle, uploading it to the fake Slack and posting the summary; mail to admins is not configured (nothing sent). The baseline's (b) includes keeping the output as a tar.gz with its sha256.",
        'Both connect through the lab ProxyCommand (`ip netns exec <mgmt> node tcp-stdio.mjs`), which costs a node start per connection for both.',
      ],
      durationMs: Date.now() - started,
    };
  } finally {
    await ward?.stop().catch(() => {});
    await infra.close();
    await lab.down();
    if (process.env.BENCH_KEEP) console.log('kept', dir);
    else removeDir(dir);
  }
}

async function runSshAllowFail(args: string[]): Promise<void> {
  await runSsh(args);
}

await runAlone(import.meta.url, () => run());

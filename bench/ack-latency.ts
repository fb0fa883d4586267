import { join } from 'node:path';
import { slashCommandBody } from '../test/helpers/slack-requests.js';
import {
  type BenchResult,
  type Figure,
  inFlight,
  percentile,
  QUICK,
  ratio,
  removeDir,
  runAlone,
  type ServiceProcess,
  sized,
  startBareBolt,
  startInfra,
  startWardService,
  timedSignedPost,
  USERS,
  waitUntil,
  workDir,
  writeLockdownRequestConfig,
} from './lib.js';

/**
 * Requests per batch: at least 500 at every level, so that a round's p99 is the 5th-slowest answer of 500 (nearest
 * rank), never the maximum. WARD_BENCH_QUICK=1 sends 30 (its "p99" is then a maximum: quick figures mean nothing).
 */
const REQUESTS = sized(500, 30);
const LEVELS = [
  { concurrency: 1, requests: REQUESTS },
  { concurrency: 10, requests: REQUESTS },
  { concurrency: 50, requests: REQUESTS },
] as const;
const COMMANDS = [
  { key: 'help', text: 'help' },
  { key: 'lockdown', text: 'lockdown web1 --reason "bench: ack latency"' },
] as const;

export interface AckOptions {
  rounds?: number;
}

export async function run(options: AckOptions = {}): Promise<BenchResult> {
  const rounds = options.rounds ?? sized(3, 1);
  const started = Date.now();
  const dir = workDir('ack-latency');
  const infra = await startInfra();
  const { slack } = infra;
  const wardEnv = writeLockdownRequestConfig(dir, infra.redis.url, slack.apiUrl);

  let ward: ServiceProcess | undefined;
  let bolt: ServiceProcess | undefined;
  let ackOnly: ServiceProcess | undefined;
  const notes: string[] = [];
  try {
    // Three separate processes, each measured alone; the load generator and the fake Slack live in this one.
    ward = await startWardService(wardEnv, join(dir, 'ward.log'));
    bolt = await startBareBolt(slack.apiUrl, join(dir, 'bare-bolt.log'), 'same', infra.redis.url);
    ackOnly = await startBareBolt(slack.apiUrl, join(dir, 'bare-bolt-ack.log'), 'ack');
    const targets = { ward, baseline: bolt, ackOnly };

    // The work after an ack, for ward and for the same-work baseline alike: help → one response_url reply;
    // lockdown → one approval message. Every batch waits for it, so that no batch's work spills into the next.
    let expectedReplies = 0;
    let expectedApprovals = 0;
    const channel = 'C0BENCHACK';
    const settle = () =>
      waitUntil(
        'the work after the acks (replies and approval messages)',
        () =>
          slack.callsTo('response_url').length >= expectedReplies &&
          slack.callsTo('chat.postMessage').length >= expectedApprovals,
        120_000,
        20,
      );

    let failures = 0;
    const batch = async (
      who: keyof typeof targets,
      command: (typeof COMMANDS)[number],
      level: { concurrency: number; requests: number },
    ): Promise<number[]> => {
      const url = `${targets[who].url}/slack/events`;
      const bodies = Array.from({ length: level.requests }, () =>
        slashCommandBody({
          text: command.text,
          user_id: USERS.requester,
          channel_id: channel,
          response_url: slack.newResponseUrl({ channel, user: USERS.requester }),
        }),
      );
      const results = await inFlight(level.requests, level.concurrency, (i) =>
        timedSignedPost(url, bodies[i]!),
      );
      failures += results.filter((r) => r.status !== 200).length;
      if (who !== 'ackOnly') {
        if (command.key === 'help') expectedReplies += level.requests;
        else expectedApprovals += level.requests;
        await settle();
      }
      return results.map((r) => r.ms);
    };

    // Warm-up (JIT, connection pools, Redis connection), not counted.
    for (const who of ['ward', 'baseline', 'ackOnly'] as const) {
      for (const command of COMMANDS) await batch(who, command, { concurrency: 5, requests: 50 });
    }

    const samples = new Map<string, { ward: number[]; baseline: number[]; ackOnly: number[] }>();
    const add = (name: string, who: keyof typeof targets, v: number) => {
      const e = samples.get(name) ?? { ward: [], baseline: [], ackOnly: [] };
      e[who].push(v);
      samples.set(name, e);
    };
    for (let round = 0; round < rounds; round++) {
      for (const level of LEVELS) {
        for (const command of COMMANDS) {
          // Rotate which goes first, so none always runs on a machine still busy with another.
          const all = ['ward', 'baseline', 'ackOnly'] as const;
          const order = [0, 1, 2].map((k) => all[(k + round) % 3]!);
          for (const who of order) {
            const ms = (await batch(who, command, level)).sort((a, b) => a - b);
            add(`${command.key} ×${level.concurrency} in flight: p50`, who, percentile(ms, 50));
            add(`${command.key} ×${level.concurrency} in flight: p99`, who, percentile(ms, 99));
          }
        }
      }
    }

    const figures: Figure[] = [...samples.entries()].map(([name, s]) => ({
      name,
      unit: 'ms',
      samples: s.ward,
      baseline: { name: 'bare Bolt, same work', samples: s.baseline },
      second: { name: 'bare Bolt, ack only', samples: s.ackOnly },
      target: name.endsWith('p99')
        ? '< 3000 ms; ≤ 1.5× bare Bolt (same work)'
        : '≤ 1.5× bare Bolt (same work)',
    }));
    const worstP99 = Math.max(...figures.filter((f) => f.name.endsWith('p99')).flatMap((f) => f.samples));
    const ratios = figures.map((f) => ratio(f)).filter((r): r is number => r !== undefined);
    notes.push(
      ...(QUICK
        ? [
            '**QUICK MODE (WARD_BENCH_QUICK=1): tiny batches, the p99 is a maximum; these figures mean nothing.**',
          ]
        : []),
      `Against the targets (reported, not asserted): worst p99 of any round ${worstP99.toFixed(0)} ms (target < 3000 ms); ward ÷ bare Bolt doing the same work, medians from ${Math.min(...ratios).toFixed(2)}× to ${Math.max(...ratios).toFixed(2)}× (target ≤ 1.5×).`,
      'Baseline: bench/bare-bolt.mjs with BARE_BOLT_WORK=same acks, then `help` → one reply through response_url, `lockdown` → one Redis SET with a TTL and one chat.postMessage. Second baseline: the same app acking only. ward runs compiled (dist/src/main.js) and both baselines as plain JS, each in its own process; the load generator and the fake Slack share this (third) process for all three.',
      `Requests per batch: ${LEVELS.map((l) => `${l.requests} at ${l.concurrency} in flight`).join(', ')}, for each command; each round's p50 and p99 (nearest rank over the batch) is one sample.`,
      `The work behind the acks (ward and the same-work baseline) was checked done before the next batch: ${expectedReplies} replies and ${expectedApprovals} approval messages reached the fake Slack.`,
      failures === 0
        ? 'Every request was answered HTTP 200.'
        : `${failures} request(s) were NOT answered HTTP 200 (see bench/.work logs).`,
    );
    return {
      name: 'ack-latency',
      title: 'Ack latency (signed slash command → HTTP 200)',
      method:
        'Signed `/ward help` and `/ward lockdown web1` (needs 1 approval: Redis request + approval message behind the ack) at 1, 10 and 50 in flight against ward (HTTP mode, real redis-server, fake Slack); baseline: a bare Bolt App + HTTPReceiver doing the same visible work (ack, then the reply or the Redis write and approval message); second baseline: the same bare Bolt acking only.',
      figures,
      notes,
      durationMs: Date.now() - started,
    };
  } finally {
    await Promise.allSettled([ward?.stop(), bolt?.stop(), ackOnly?.stop()]);
    await infra.close();
    removeDir(dir);
  }
}

await runAlone(import.meta.url, () => run());

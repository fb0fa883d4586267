import { join } from 'node:path';
import { slashCommandBody } from '../test/helpers/slack-requests.js';
import {
  type BenchResult,
  type Figure,
  inFlight,
  percentile,
  ratio,
  removeDir,
  runAlone,
  type ServiceProcess,
  startBareBolt,
  startInfra,
  startWardService,
  timedSignedPost,
  USERS,
  waitUntil,
  workDir,
  writeLockdownRequestConfig,
} from './lib.js';

const LEVELS = [
  { concurrency: 1, requests: 60 },
  { concurrency: 10, requests: 200 },
  { concurrency: 50, requests: 500 },
] as const;
const COMMANDS = [
  { key: 'help', text: 'help' },
  { key: 'lockdown', text: 'lockdown web1 --reason "bench: ack latency"' },
] as const;

export interface AckOptions {
  rounds?: number;
}

export async function run(options: AckOptions = {}): Promise<BenchResult> {
  const rounds = options.rounds ?? 3;
  const started = Date.now();
  const dir = workDir('ack-latency');
  const infra = await startInfra();
  const { slack } = infra;
  const wardEnv = writeLockdownRequestConfig(dir, infra.redis.url, slack.apiUrl);

  let ward: ServiceProcess | undefined;
  let bolt: ServiceProcess | undefined;
  const notes: string[] = [];
  try {
    ward = await startWardService(wardEnv, join(dir, 'ward.log'));
    bolt = await startBareBolt(slack.apiUrl, join(dir, 'bare-bolt.log'));
    const targets = { ward: ward, baseline: bolt };

    // ward's work after an ack: help → one response_url reply; lockdown → one approval message.
    let expectedReplies = 0;
    let expectedApprovals = 0;
    const channel = 'C0BENCHACK';
    const settle = () =>
      waitUntil(
        "ward's work after the acks (replies and approval messages)",
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
      if (who === 'ward') {
        if (command.key === 'help') expectedReplies += level.requests;
        else expectedApprovals += level.requests;
        await settle();
      }
      return results.map((r) => r.ms);
    };

    // Warm-up (JIT, connection pools, Redis connection), not counted.
    for (const who of ['ward', 'baseline'] as const) {
      for (const command of COMMANDS) await batch(who, command, { concurrency: 5, requests: 50 });
    }

    const samples = new Map<string, { ward: number[]; baseline: number[] }>();
    const add = (name: string, who: 'ward' | 'baseline', v: number) => {
      const e = samples.get(name) ?? { ward: [], baseline: [] };
      e[who].push(v);
      samples.set(name, e);
    };
    for (let round = 0; round < rounds; round++) {
      for (const level of LEVELS) {
        for (const command of COMMANDS) {
          // Alternate which goes first, so neither always runs on a machine still busy with the other.
          const order = round % 2 === 0 ? (['ward', 'baseline'] as const) : (['baseline', 'ward'] as const);
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
      baseline: { name: 'bare Bolt', samples: s.baseline },
      target: name.endsWith('p99') ? '< 3000 ms; ≤ 1.5× bare Bolt' : '≤ 1.5× bare Bolt',
    }));
    const worstP99 = Math.max(...figures.filter((f) => f.name.endsWith('p99')).flatMap((f) => f.samples));
    const ratios = figures.map((f) => ratio(f)).filter((r): r is number => r !== undefined);
    notes.push(
      `Against the targets (reported, not asserted): worst p99 of any round ${worstP99.toFixed(0)} ms (target < 3000 ms); ward ÷ bare Bolt medians from ${Math.min(...ratios).toFixed(2)}× to ${Math.max(...ratios).toFixed(2)}× (target ≤ 1.5×). In absolute terms the gap is milliseconds: ward's work behind the ack (logging, Redis, posting to the fake Slack) shares the CPU with the acks.`,
      `Requests per round: ${LEVELS.map((l) => `${l.requests} at ${l.concurrency} in flight`).join(', ')}, for each command; each round's p50 and p99 is one sample.`,
      `ward's work behind the acks was checked done before the next batch: ${expectedReplies} help replies and ${expectedApprovals} approval messages reached the fake Slack.`,
      failures === 0
        ? 'Every request was answered HTTP 200.'
        : `${failures} request(s) were NOT answered HTTP 200 (see bench/.work logs).`,
    );
    return {
      name: 'ack-latency',
      title: 'Ack latency (signed slash command → HTTP 200)',
      method:
        'Signed `/ward help` and `/ward lockdown web1` (needs 1 approval: Redis request + approval message behind the ack) at 1, 10 and 50 in flight against ward (HTTP mode, real redis-server, fake Slack); baseline: bare Bolt App + HTTPReceiver acking the same command.',
      figures,
      notes,
      durationMs: Date.now() - started,
    };
  } finally {
    await Promise.allSettled([ward?.stop(), bolt?.stop()]);
    await infra.close();
    removeDir(dir);
  }
}

await runAlone(import.meta.url, () => run());

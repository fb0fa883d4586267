import { join } from 'node:path';
import { slashCommandBody } from '../test/helpers/slack-requests.js';
import {
  type BenchResult,
  type Figure,
  inFlight,
  QUICK,
  readProcMemory,
  removeDir,
  runAlone,
  type ServiceProcess,
  sized,
  sleep,
  startBareBolt,
  startInfra,
  startWardService,
  timedSignedPost,
  USERS,
  waitUntil,
  workDir,
  writeLockdownRequestConfig,
} from './lib.js';

const REQUESTS = sized(1000, 100);
const CONCURRENCY = 10;
/** How long a process is left alone before its idle RSS is read. */
const IDLE_MS = sized(2000, 500);

/** The mix: help, two kinds of bad input (missing host, unknown command), and lockdown requests. */
const MIX = [
  { text: 'help', reply: 'response_url' },
  { text: 'lockdown', reply: 'response_url' },
  { text: 'lockdown web1 --reason "bench: memory"', reply: 'chat.postMessage' },
  { text: 'frobnicate web1', reply: 'response_url' },
] as const;

export interface MemoryOptions {
  rounds?: number;
}

export async function run(options: MemoryOptions = {}): Promise<BenchResult> {
  const rounds = options.rounds ?? sized(3, 1);
  const started = Date.now();
  const dir = workDir('memory');
  const infra = await startInfra();
  const { slack } = infra;
  const wardEnv = writeLockdownRequestConfig(dir, infra.redis.url, slack.apiUrl);
  const ward = { idle: [] as number[], after: [] as number[], peak: [] as number[] };
  const bolt = { idle: [] as number[], after: [] as number[], peak: [] as number[] };
  let failures = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      for (const who of ['ward', 'baseline'] as const) {
        let proc: ServiceProcess | undefined;
        try {
          proc =
            who === 'ward'
              ? await startWardService(wardEnv, join(dir, `ward-${round}.log`))
              : await startBareBolt(slack.apiUrl, join(dir, `bolt-${round}.log`), 'same', infra.redis.url);
          await sleep(IDLE_MS);
          const into = who === 'ward' ? ward : bolt;
          into.idle.push(readProcMemory(proc.pid).rssMiB);

          const channel = `C0MEM${round}${who === 'ward' ? 'W' : 'B'}`;
          const before = {
            response_url: slack.callsTo('response_url').length,
            'chat.postMessage': slack.callsTo('chat.postMessage').length,
          };
          const expected = { response_url: 0, 'chat.postMessage': 0 };
          const bodies = Array.from({ length: REQUESTS }, (_, i) => {
            const item = MIX[i % MIX.length]!;
            expected[item.reply]++;
            return slashCommandBody({
              text: item.text,
              user_id: USERS.requester,
              channel_id: channel,
              response_url: slack.newResponseUrl({ channel, user: USERS.requester }),
            });
          });
          const url = `${proc.url}/slack/events`;
          const results = await inFlight(REQUESTS, CONCURRENCY, (i) => timedSignedPost(url, bodies[i]!));
          failures += results.filter((r) => r.status !== 200).length;
          // The work behind the acks (replies, approval messages) done before memory is read, on both sides.
          await waitUntil(
            'the replies and approval messages',
            () =>
              slack.callsTo('response_url').length - before.response_url >= expected.response_url &&
              slack.callsTo('chat.postMessage').length - before['chat.postMessage'] >=
                expected['chat.postMessage'],
            120_000,
            20,
          );
          await sleep(IDLE_MS);
          const m = readProcMemory(proc.pid);
          into.after.push(m.rssMiB);
          into.peak.push(m.hwmMiB);
        } finally {
          await proc?.stop();
        }
      }
    }
    const baseline = (samples: number[]) => ({ name: 'bare Bolt, same work', samples });
    const figures: Figure[] = [
      {
        name: 'RSS at idle after start',
        unit: 'MiB',
        samples: ward.idle,
        baseline: baseline(bolt.idle),
        target: '≤ 1.3× bare Bolt',
      },
      {
        name: `RSS after ${REQUESTS} requests (work done, ${IDLE_MS / 1000} s idle)`,
        unit: 'MiB',
        samples: ward.after,
        baseline: baseline(bolt.after),
      },
      {
        name: `peak RSS (VmHWM) over start + ${REQUESTS} requests`,
        unit: 'MiB',
        samples: ward.peak,
        baseline: baseline(bolt.peak),
      },
      {
        name: `growth: after ${REQUESTS} requests − idle`,
        unit: 'MiB',
        samples: ward.after.map((v, i) => v - ward.idle[i]!),
        baseline: baseline(bolt.after.map((v, i) => v - bolt.idle[i]!)),
        target: '≤ 1.5× bare Bolt',
      },
    ];
    return {
      name: 'memory',
      title: `Memory (RSS idle, and after ${REQUESTS} requests)`,
      method: `Fresh process per round; VmRSS ${IDLE_MS / 1000} s after it listens, then ${REQUESTS} signed slash commands at ${CONCURRENCY} in flight (${MIX.map((m) => `\`${m.text}\``).join(', ')} in turn), VmRSS once ward's replies and approval messages are all out and ${IDLE_MS / 1000} s passed. Baseline: bare Bolt (bench/bare-bolt.mjs, plain JS) doing the same visible work for the same requests.`,
      figures,
      notes: [
        `${rounds} rounds, each with a fresh ward and a fresh bare Bolt (redis-server and the fake Slack are shared).`,
        ...(QUICK ? ['**QUICK MODE (WARD_BENCH_QUICK=1): tiny rounds; these figures mean nothing.**'] : []),
        'Both run as plain JavaScript under `node` (ward as `npm start` runs it: dist/src/main.js, compiled first; the baseline: bench/bare-bolt.mjs), each in its own process; no TypeScript loader on either side. The load generator and the fake Slack run in the bench process.',
        'The baseline answers `help` and bad input through response_url, and `lockdown web1` with one Redis SET and one chat.postMessage, as ward does.',
        failures === 0
          ? 'Every request was answered HTTP 200.'
          : `${failures} request(s) were NOT answered HTTP 200.`,
      ],
      durationMs: Date.now() - started,
    };
  } finally {
    await infra.close();
    removeDir(dir);
  }
}

await runAlone(import.meta.url, () => run());

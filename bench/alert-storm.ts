/**
 * Alert storm benchmark: a few thousand alerts across a few hundred fingerprints, sent as fast as loopback allows
 * to ward's /alerts/generic (ward started as a process, real redis-server, the fake Slack), against a baseline: a
 * bare node:http server that only parses the same JSON, in the same run, with the same sender.
 *
 * Reports accepted alerts per second (min/median/max over 3 rounds, and the ratio to the baseline), the Slack calls
 * ward made, the largest per-channel rate seen by the fake Slack (calls in any one-second window, from its
 * recorded call times), and alerts lost (must be 0: every fingerprint must be visible in a Slack message).
 *
 *   npx tsx bench/alert-storm.ts       (standalone)
 *   import { run } from './alert-storm.js'  (bench/run.ts)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RedisStore } from '../src/adapters/redis/redis-store.js';
import { alertQueueKey } from '../src/alerts/queue.js';
import { type FakeSlack, startFakeSlack } from '../src/fake-slack/fake-slack.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { startWardProcess } from '../test/helpers/ward-process.js';
import type { BenchResult } from './lib.js';

/** The shared harness's result (bench/lib.ts), plus the printed lines and the correctness verdict. */
export interface AlertStormResult extends BenchResult {
  /** Human-readable lines, as printed. */
  lines: string[];
  /** False when a correctness check failed (alerts lost). */
  ok: boolean;
}

const ALERTS_PER_ROUND = 2000;
const FINGERPRINTS_PER_ROUND = 200;
const CHANNELS = 8;
const ROUNDS = 3;
const CONCURRENCY = 32;
const DELIVERY_TIMEOUT_MS = 45_000;
const TOKEN = 'bench-generic-token';

function bodies(round: number): string[] {
  return Array.from({ length: ALERTS_PER_ROUND }, (_, i) => {
    const fp = `r${round}-fp-${i % FINGERPRINTS_PER_ROUND}`;
    return JSON.stringify({
      title: `storm alert ${fp}`,
      fingerprint: fp,
      severity: 'warning',
      summary: `bench alert ${i}`,
      labels: { team: `t${(i % FINGERPRINTS_PER_ROUND) % CHANNELS}` },
    });
  });
}

/** Sends every body with CONCURRENCY requests in flight; returns accepted per second and any failures. */
async function send(url: string, all: string[]): Promise<{ perSecond: number; failed: number }> {
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < all.length) {
        const body = all[next++]!;
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          body,
        });
        await res.arrayBuffer();
        if (res.status !== 202) failed++;
      }
    }),
  );
  return { perSecond: all.length / ((performance.now() - started) / 1000), failed };
}

/** The baseline: reads the body, parses the JSON, answers 202. Nothing else. */
async function startBaseline(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"accepted":1}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts/generic`, server };
}

function visibleText(slack: FakeSlack): string {
  return slack
    .messages()
    .map((m) => `${m.text ?? ''}\n${JSON.stringify(m.blocks ?? [])}`)
    .join('\n');
}

/** The most Slack calls any one channel saw within one second. */
function largestPerChannelRate(slack: FakeSlack): number {
  const byChannel = new Map<string, number[]>();
  for (const c of slack.calls) {
    if (c.method !== 'chat.postMessage' && c.method !== 'chat.update') continue;
    const channel = String(c.args['channel'] ?? '');
    const list = byChannel.get(channel) ?? [];
    list.push(c.at);
    byChannel.set(channel, list);
  }
  let largest = 0;
  for (const times of byChannel.values()) {
    times.sort((a, b) => a - b);
    let start = 0;
    for (let end = 0; end < times.length; end++) {
      while (times[end]! - times[start]! >= 1000) start++;
      largest = Math.max(largest, end - start + 1);
    }
  }
  return largest;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const stats = (xs: number[]) => ({ min: Math.min(...xs), median: median(xs), max: Math.max(...xs) });

export async function run(): Promise<AlertStormResult> {
  const startedAt = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'ward-bench-alerts-'));
  const rules = [
    'defaults: { dedupeWindow: 30m, storm: { perMinute: 5 } }',
    'rules:',
    ...Array.from({ length: CHANNELS }, (_, i) =>
      [
        `  - name: team-${i}`,
        `    match: { labels.team: t${i} }`,
        `    route: { channel: C0BENCH${i} }`,
      ].join('\n'),
    ),
  ].join('\n');
  writeFileSync(join(dir, 'rules.yaml'), `${rules}\n`);

  const redis = await startRedis();
  const slack = await startFakeSlack({ botToken: 'xoxb-bench' });
  const ward = await startWardProcess({
    SLACK_BOT_TOKEN: 'xoxb-bench',
    SLACK_SIGNING_SECRET: 'bench-signing-secret',
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: redis.url,
    WARD_RULES: join(dir, 'rules.yaml'),
    WARD_ALERT_DEFAULT_CHANNEL: 'C0BENCHFALLBACK',
    WARD_ALERT_TOKEN_GENERIC: TOKEN,
    LOG_LEVEL: 'info',
    // The bench measures throughput: 2,000 alerts a round from one source would be over the default per-source
    // limit (docs/security.md, "Alert floods") and answered 429.
    WARD_ALERT_RATE_PER_SOURCE: '1000000',
  });
  const baseline = await startBaseline();
  const store = new RedisStore(redis.url);
  await store.connect();

  const wardRates: number[] = [];
  const baselineRates: number[] = [];
  const deliverySeconds: number[] = [];
  let lost = 0;
  let rejected = 0;
  try {
    // Warm-up (connection pool, JIT) for both servers, not measured; its alerts are round 0's.
    const warm = bodies(0).slice(0, 200);
    await send(baseline.url, warm);
    await send(`${ward.url}/alerts/generic`, warm);
    for (let round = 1; round <= ROUNDS; round++) {
      const all = bodies(round);
      const b = await send(baseline.url, all);
      baselineRates.push(b.perSecond);
      const sentAt = performance.now();
      const w = await send(`${ward.url}/alerts/generic`, all);
      wardRates.push(w.perSecond);
      rejected += w.failed;
      const fingerprints = Array.from({ length: FINGERPRINTS_PER_ROUND }, (_, i) => `r${round}-fp-${i}`);
      const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
      for (;;) {
        const text = visibleText(slack);
        const missing = fingerprints.filter((fp) => !text.includes(`storm alert ${fp}`));
        const queued = (await store.listRange(alertQueueKey, 0, -1)).length;
        if (missing.length === 0 && queued === 0) break;
        if (Date.now() > deadline) {
          lost += missing.length;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      deliverySeconds.push((performance.now() - sentAt) / 1000);
    }
  } finally {
    await store.close();
    await new Promise<void>((r) => baseline.server.close(() => r()));
    await ward.stop();
    await slack.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const posts = slack.callsTo('chat.postMessage').length;
  const updates = slack.callsTo('chat.update').length;
  const rateLimited = slack.calls.filter((c) => c.rateLimited).length;
  const wardStats = stats(wardRates);
  const baseStats = stats(baselineRates);
  const ratio = wardStats.median / baseStats.median;
  const perChannel = largestPerChannelRate(slack);
  const total = ALERTS_PER_ROUND * ROUNDS;
  const fmt = (n: number) => n.toFixed(0);
  const lines = [
    `alert storm: ${ROUNDS} rounds × ${ALERTS_PER_ROUND} alerts over ${FINGERPRINTS_PER_ROUND} fingerprints and ${CHANNELS} channels, ${CONCURRENCY} requests in flight`,
    `  ward accepted/s       min ${fmt(wardStats.min)}  median ${fmt(wardStats.median)}  max ${fmt(wardStats.max)}`,
    `  baseline accepted/s   min ${fmt(baseStats.min)}  median ${fmt(baseStats.median)}  max ${fmt(baseStats.max)}  (bare node:http + JSON.parse)`,
    `  ratio ward/baseline   ${ratio.toFixed(3)} (medians)`,
    `  delivered to Slack in ${deliverySeconds.map((s) => `${s.toFixed(1)} s`).join(', ')} (from the first send of each round)`,
    `  Slack calls           ${posts + updates} for ${total} alerts (${posts} chat.postMessage, ${updates} chat.update, ${rateLimited} answered 429)`,
    `  largest per-channel rate  ${perChannel} call(s) in one second`,
    `  alerts lost           ${lost}${rejected > 0 ? ` (and ${rejected} requests not answered 202)` : ''}`,
  ];
  return {
    name: 'alert-storm',
    title: 'Alert storm',
    method: `${ROUNDS} rounds of ${ALERTS_PER_ROUND} alerts over ${FINGERPRINTS_PER_ROUND} fingerprints and ${CHANNELS} channels, ${CONCURRENCY} requests in flight, to ward (real Redis, fake Slack) and to a bare node:http server that only parses the same JSON.`,
    figures: [
      {
        name: 'alerts accepted per second',
        unit: 'alerts/s',
        samples: wardRates,
        baseline: { name: 'bare node:http + JSON.parse', samples: baselineRates },
      },
      {
        name: 'Slack calls for all alerts',
        unit: 'calls',
        samples: [posts + updates],
        note: `${total} alerts`,
      },
      { name: 'largest per-channel rate', unit: 'calls/s', samples: [perChannel] },
      { name: 'delivery time per round', unit: 's', samples: deliverySeconds },
      { name: 'alerts lost', unit: 'alerts', samples: [lost], target: '0' },
    ],
    notes: lines,
    durationMs: performance.now() - startedAt,
    lines,
    ok: lost === 0 && rejected === 0,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (result) => {
      for (const line of result.lines) process.stdout.write(`${line}\n`);
      process.exit(result.ok ? 0 : 1);
    },
    (err: unknown) => {
      process.stderr.write(
        `alert-storm failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}

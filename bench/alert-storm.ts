/**
 * Alert storm benchmark: a few thousand alerts across a few hundred fingerprints, sent as fast as loopback allows
 * to ward's /alerts/generic (ward compiled and started as its own process, real redis-server, the fake Slack),
 * against a baseline: a bare node:http server (bench/bare-json.mjs, plain JS, its own process) that only parses the
 * same JSON, in the same run, with the same sender. The sender and the fake Slack share this process; neither
 * server shares its event loop with them.
 *
 * Reports accepted alerts per second (2xx answers only; min/median/max over the rounds, and the ratio to the
 * baseline), the time from the first alert sent to the last Slack call that alerts caused, Slack calls per 1,000
 * alerts, the largest per-channel rate seen by the fake Slack, and alerts lost. Every alert is counted, not every
 * fingerprint: a fingerprint sent 10 times must show 10 in Slack (its message's "Seen" plus its lines in storm
 * summaries), and fingerprints are matched exactly (`r1-fp-1` never matches `r1-fp-10`).
 *
 *   npx tsx bench/alert-storm.ts       (standalone; WARD_BENCH_QUICK=1 for tiny rounds)
 *   import { run } from './alert-storm.js'  (bench/run.ts)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RedisStore } from '../src/adapters/redis/redis-store.js';
import { alertQueueKey, alertUrgentQueueKey } from '../src/alerts/queue.js';
import type { FakeSlack } from '../test/fakes/fake-slack.js';
import {
  type BenchResult,
  QUICK,
  ROOT,
  removeDir,
  type ServiceProcess,
  sized,
  startInfra,
  startNodeService,
  startWardService,
  workDir,
} from './lib.js';

/** The shared harness's result (bench/lib.ts), plus the printed lines and the correctness verdict. */
export interface AlertStormResult extends BenchResult {
  /** Human-readable lines, as printed. */
  lines: string[];
  /** False when a correctness check failed (alerts lost). */
  ok: boolean;
}

const ALERTS_PER_ROUND = sized(2000, 200);
const FINGERPRINTS_PER_ROUND = sized(200, 20);
const CHANNELS = 8;
const ROUNDS = sized(3, 1);
const CONCURRENCY = 32;
const DELIVERY_TIMEOUT_MS = 120_000;
const TOKEN = 'bench-generic-token';

const fingerprintOf = (round: number, i: number) => `r${round}-fp-${i % FINGERPRINTS_PER_ROUND}`;

function bodies(round: number): string[] {
  return Array.from({ length: ALERTS_PER_ROUND }, (_, i) => {
    const fp = fingerprintOf(round, i);
    return JSON.stringify({
      title: `storm alert ${fp}`,
      fingerprint: fp,
      severity: 'warning',
      summary: `bench alert ${i}`,
      labels: { team: `t${(i % FINGERPRINTS_PER_ROUND) % CHANNELS}` },
    });
  });
}

/** Sends every body with CONCURRENCY requests in flight; accepted per second counts 2xx answers only. */
async function send(
  url: string,
  all: string[],
): Promise<{
  perSecond: number;
  accepted: number;
  /** Per body: answered 2xx (only those must reach Slack). */
  acceptedAt: boolean[];
  failed: number;
  statuses: Record<string, number>;
}> {
  let next = 0;
  let accepted = 0;
  const acceptedAt = all.map(() => false);
  const statuses: Record<string, number> = {};
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < all.length) {
        const index = next++;
        const body = all[index]!;
        let status: number | string;
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
            body,
          });
          await res.arrayBuffer();
          status = res.status;
        } catch {
          status = 'network error';
        }
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (typeof status === 'number' && status >= 200 && status < 300) {
          accepted++;
          acceptedAt[index] = true;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: accepted / seconds, accepted, acceptedAt, failed: all.length - accepted, statuses };
}

/**
 * How many alerts of each fingerprint Slack shows: an alert's own message says how often it was seen ("once",
 * "N times"); a storm summary lists each fingerprint once with "×N" when repeated. Fingerprints are read from
 * their own backticked span, so they match exactly.
 */
export function alertCountsShown(
  messages: ReadonlyArray<{ text?: string | undefined; blocks?: unknown[] | undefined }>,
): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (fp: string, n: number) => counts.set(fp, (counts.get(fp) ?? 0) + n);
  for (const m of messages) {
    const blocks = (m.blocks ?? []) as Array<{
      type?: string;
      text?: { text?: string };
      fields?: Array<{ text?: string }>;
      elements?: Array<{ text?: string }>;
    }>;
    if ((m.text ?? '').startsWith(':cyclone:')) {
      for (const b of blocks) {
        for (const line of (b.text?.text ?? '').split('\n')) {
          const hit = /^• (?::white_check_mark: )?`[^`]*`(?: ×(\d+))? · `([^`]+)`$/.exec(line);
          if (hit) add(hit[2]!, hit[1] === undefined ? 1 : Number(hit[1]));
        }
      }
      continue;
    }
    let fp: string | undefined;
    let seen: number | undefined;
    for (const b of blocks) {
      for (const f of b.fields ?? []) {
        const hit = /^\*Seen\*\n(?:once|(\d+) times)$/.exec(f.text ?? '');
        if (hit) seen = hit[1] === undefined ? 1 : Number(hit[1]);
      }
      for (const e of b.elements ?? []) {
        const hit = /fingerprint `([^`]+)`$/.exec(e.text ?? '');
        if (hit) fp = hit[1];
      }
    }
    if (fp !== undefined && seen !== undefined) add(fp, seen);
  }
  return counts;
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
  const dir = workDir('alert-storm');
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

  const infra = await startInfra();
  const { redis, slack } = infra;
  let ward: ServiceProcess | undefined;
  let baseline: ServiceProcess | undefined;
  let store: RedisStore | undefined;
  const stopAll = async () => {
    await store?.close();
    await Promise.allSettled([ward?.stop(), baseline?.stop()]);
    await infra.close();
    removeDir(dir);
  };
  try {
    ward = await startWardService(
      {
        SLACK_API_URL: slack.apiUrl,
        REDIS_URL: redis.url,
        WARD_RULES: join(dir, 'rules.yaml'),
        WARD_ALERT_DEFAULT_CHANNEL: 'C0BENCHFALLBACK',
        WARD_ALERT_TOKEN_GENERIC: TOKEN,
        // The bench measures throughput: 2,000 alerts a round from one source would be over the default per-source
        // limit (docs/security.md, "Alert floods") and answered 429.
        WARD_ALERT_RATE_PER_SOURCE: '1000000',
      },
      join(dir, 'ward.log'),
    );
    baseline = await startNodeService(
      join(ROOT, 'bench', 'bare-json.mjs'),
      {},
      join(dir, 'bare-json.log'),
      (l) => (l['msg'] === 'bare json listening' ? Number(l['port']) : undefined),
    );
    store = new RedisStore(redis.url);
    await store.connect();
  } catch (err) {
    await stopAll();
    throw err;
  }
  const wardUrl = ward.url;
  const baselineUrl = baseline.url;
  const wardStore = store;

  const wardRates: number[] = [];
  const baselineRates: number[] = [];
  const firstToLastSeconds: number[] = [];
  const callsPer1000: number[] = [];
  const statuses: Record<string, number> = {};
  let posts = 0;
  let updates = 0;
  let lost = 0;
  let extra = 0;
  let rejected = 0;
  let total = 0;
  try {
    // Warm-up (connection pool, JIT) for both servers, not measured; its alerts are round 0's.
    const warm = bodies(0).slice(0, Math.min(200, ALERTS_PER_ROUND));
    await send(`${baselineUrl}/alerts/generic`, warm);
    await send(`${wardUrl}/alerts/generic`, warm);
    await waitForQueueEmpty(wardStore, DELIVERY_TIMEOUT_MS);
    for (let round = 1; round <= ROUNDS; round++) {
      const all = bodies(round);
      const b = await send(`${baselineUrl}/alerts/generic`, all);
      baselineRates.push(b.perSecond);
      const callsBefore = slack.calls.length;
      const firstSentAt = Date.now();
      const w = await send(`${wardUrl}/alerts/generic`, all);
      wardRates.push(w.perSecond);
      rejected += w.failed;
      total += w.accepted;
      for (const [k, v] of Object.entries(w.statuses)) statuses[k] = (statuses[k] ?? 0) + v;

      // Every alert accepted this round, by fingerprint (a 2xx covers the one alert in its body).
      const sent = new Map<string, number>();
      for (let i = 0; i < all.length; i++) {
        if (!w.acceptedAt[i]) continue;
        const fp = fingerprintOf(round, i);
        sent.set(fp, (sent.get(fp) ?? 0) + 1);
      }
      const prefix = `r${round}-fp-`;
      const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
      let missing = 0;
      let over = 0;
      for (;;) {
        const shown = alertCountsShown(slack.messages());
        missing = 0;
        over = 0;
        for (const [fp, n] of sent) {
          const got = shown.get(fp) ?? 0;
          if (got < n) missing += n - got;
          if (got > n) over += got - n;
        }
        for (const [fp, n] of shown) if (fp.startsWith(prefix) && !sent.has(fp)) over += n;
        const queued =
          (await wardStore.listRange(alertQueueKey, 0, -1)).length +
          (await wardStore.listRange(alertUrgentQueueKey, 0, -1)).length;
        if ((missing === 0 && queued === 0) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      lost += missing;
      extra += over;
      const roundCalls = slack.calls
        .slice(callsBefore)
        .filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update');
      const lastCallAt = Math.max(firstSentAt, ...roundCalls.map((c) => c.at));
      firstToLastSeconds.push((lastCallAt - firstSentAt) / 1000);
      posts += roundCalls.filter((c) => c.method === 'chat.postMessage').length;
      updates += roundCalls.filter((c) => c.method === 'chat.update').length;
      callsPer1000.push((roundCalls.length / Math.max(1, w.accepted)) * 1000);
    }
  } finally {
    await stopAll();
  }

  const rateLimited = slack.calls.filter((c) => c.rateLimited).length;
  const wardStats = stats(wardRates);
  const baseStats = stats(baselineRates);
  const ratio = wardStats.median / baseStats.median;
  const perChannel = largestPerChannelRate(slack);
  const fmt = (n: number) => n.toFixed(0);
  const lines = [
    ...(QUICK ? ['**QUICK MODE (WARD_BENCH_QUICK=1): tiny rounds; these figures mean nothing.**'] : []),
    `alert storm: ${ROUNDS} rounds × ${ALERTS_PER_ROUND} alerts over ${FINGERPRINTS_PER_ROUND} fingerprints and ${CHANNELS} channels, ${CONCURRENCY} requests in flight`,
    `  ward accepted/s (2xx) min ${fmt(wardStats.min)}  median ${fmt(wardStats.median)}  max ${fmt(wardStats.max)}`,
    `  baseline accepted/s   min ${fmt(baseStats.min)}  median ${fmt(baseStats.median)}  max ${fmt(baseStats.max)}  (bare node:http + JSON.parse, own process)`,
    `  ratio ward/baseline   ${ratio.toFixed(3)} (medians)`,
    `  first alert → last Slack call: ${firstToLastSeconds.map((s) => `${s.toFixed(1)} s`).join(', ')}`,
    `  Slack calls           ${posts + updates} for the ${total} alerts accepted in the measured rounds (${posts} chat.postMessage, ${updates} chat.update, ${rateLimited} answered 429); per 1,000 alerts by round: ${callsPer1000.map((c) => c.toFixed(0)).join(', ')}`,
    `  largest per-channel rate  ${perChannel} call(s) in one second`,
    `  answers               ${Object.entries(statuses)
      .map(([k, v]) => `${v}× ${k}`)
      .join(', ')}`,
    `  alerts lost           ${lost}${extra > 0 ? ` (and ${extra} shown more often than sent)` : ''}${rejected > 0 ? ` (and ${rejected} requests not answered 2xx)` : ''}`,
  ];
  return {
    name: 'alert-storm',
    title: 'Alert storm',
    method: `${ROUNDS} rounds of ${ALERTS_PER_ROUND} alerts over ${FINGERPRINTS_PER_ROUND} fingerprints and ${CHANNELS} channels, ${CONCURRENCY} requests in flight, to ward (compiled, own process; real Redis, fake Slack) and to a bare node:http server (own process) that only parses the same JSON. Accepted/s counts 2xx answers only; every accepted alert is durable in Redis and audited before ward's 2xx. Lost: alerts sent minus alerts Slack shows, per exact fingerprint (repeats counted).`,
    figures: [
      {
        name: 'alerts accepted per second (2xx)',
        unit: 'alerts/s',
        samples: wardRates,
        baseline: { name: 'bare node:http + JSON.parse', samples: baselineRates },
        target: '≥ 0.5× baseline',
      },
      { name: 'first alert → last Slack call', unit: 's', samples: firstToLastSeconds },
      { name: 'Slack calls per 1,000 alerts', unit: 'calls', samples: callsPer1000 },
      { name: 'largest per-channel rate', unit: 'calls/s', samples: [perChannel] },
      { name: 'alerts lost', unit: 'alerts', samples: [lost], target: '0' },
    ],
    notes: lines,
    durationMs: performance.now() - startedAt,
    lines,
    ok: lost === 0 && extra === 0 && rejected === 0,
  };
}

async function waitForQueueEmpty(store: RedisStore, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const queued =
      (await store.listRange(alertQueueKey, 0, -1)).length +
      (await store.listRange(alertUrgentQueueKey, 0, -1)).length;
    if (queued === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
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

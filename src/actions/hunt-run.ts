import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { InventoryHost } from '../config/inventory.js';
import type {
  ExecutionContext,
  ExecutionReport,
  CommandServices as Services,
  StepResult,
} from '../core/command.js';
import { countResults, renderHuntProgress, renderHuntSummary } from '../render/hunt.js';
import { hostsForExecution, jobFrom } from './execution-helpers.js';
import { fanOut } from './fan-out.js';
import { describeError, type RemoteJob, withHost } from './host-session.js';
import { type HostHuntResult, type HuntBounds, huntOnSession } from './hunt.js';
import { type Indicator, indicatorText } from './hunt-indicators.js';

/** What ward keeps of a finished hunt for its buttons: `ward:hunt:<id>`, for HUNT_RECORD_TTL_MS. */
export interface HuntRecord {
  id: string;
  requester: string;
  channel: string;
  threadTs: string;
  indicators: string[];
  hits: string[];
  clean: string[];
  cloudHits: string[];
}

export const huntKey = (id: string): string => `ward:hunt:${id}`;
export const HUNT_RECORD_TTL_MS = 7 * 24 * 3600_000;

/** Hosts above which a hunt shows one live progress message. */
export const PROGRESS_ABOVE_HOSTS = 5;

export function huntBounds(services: Services, timeLimitSeconds?: number | undefined): HuntBounds {
  const c = services.config;
  const capMs = c.WARD_HUNT_SCAN_TIMEOUT_MS;
  return {
    paths: services.inventory().huntPaths,
    maxFileBytes: c.WARD_HUNT_MAX_FILE_BYTES,
    maxFiles: c.WARD_HUNT_MAX_FILES,
    scanTimeoutMs:
      timeLimitSeconds === undefined ? capMs : Math.min(capMs, Math.round(timeLimitSeconds * 1000)),
  };
}

/**
 * Edits one message with the hunt's progress, at most once per interval (Slack rate-limits chat.update, and a
 * reader gains nothing from faster): an update that arrives early is folded into one trailing edit.
 */
class ProgressMessage {
  private ts: string | undefined;
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly services: Services,
    private readonly job: RemoteJob,
    private readonly total: number,
    private readonly results: readonly HostHuntResult[],
  ) {}

  async start(): Promise<void> {
    const posted = await this.services.chat
      .postMessage(this.job.thread.channel, this.message(), { threadTs: this.job.thread.ts })
      .catch((err) => {
        this.services.log.warn({ err }, 'could not post hunt progress');
        return undefined;
      });
    this.ts = posted?.ts;
    this.last = Date.now();
  }

  private message() {
    return renderHuntProgress(this.job.requestId, countResults(this.total, this.results));
  }

  changed(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.last + this.services.config.WARD_HUNT_PROGRESS_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  private flush(): void {
    const ts = this.ts;
    if (ts === undefined) return;
    this.last = Date.now();
    const message = this.message();
    this.chain = this.chain.then(() =>
      this.services.chat
        .update(this.job.thread.channel, ts, message)
        .catch((err) => this.services.log.warn({ err }, 'could not update hunt progress')),
    );
  }

  /** The last edit shows every host done: waits out the interval rather than breaking it. */
  async finish(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const wait = this.last + this.services.config.WARD_HUNT_PROGRESS_INTERVAL_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    this.flush();
    await this.chain;
  }
}

const sha256 = (b: string) => createHash('sha256').update(b).digest('hex');

const csvCell = (v: string) =>
  /[",\n\r]/.test(v) || /^[=+\-@]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;

/** One line per host and indicator, for spreadsheets (cells that a spreadsheet would run as formulas are quoted). */
export function huntCsv(results: readonly HostHuntResult[]): string {
  const rows = [['host', 'address', 'host_outcome', 'indicator', 'indicator_outcome', 'matches', 'note']];
  for (const r of results) {
    if (r.findings.length === 0) rows.push([r.host, r.address, r.outcome, '', '', '', r.reason ?? '']);
    for (const f of r.findings) {
      rows.push([
        r.host,
        r.address,
        r.outcome,
        f.indicator,
        f.outcome,
        f.matches.join(' | '),
        f.note ?? (r.outcome === 'failed' ? (r.reason ?? '') : ''),
      ]);
    }
  }
  return `${rows.map((row) => row.map((c) => csvCell(c)).join(',')).join('\n')}\n`;
}

/**
 * Runs an approved hunt: every host of the plan answers exactly once (hit, clean, partial or failed, never
 * silently clean), with live progress above five hosts, then one summary with buttons, the results as JSONL and
 * CSV in the thread and in the evidence directory, and an audit entry with every host's outcome.
 */
export async function runHunt(
  ctx: ExecutionContext<unknown>,
  indicators: readonly Indicator[],
  bounds: HuntBounds,
): Promise<{ report: ExecutionReport; record: HuntRecord; results: HostHuntResult[] }> {
  const { services } = ctx;
  const job = jobFrom(ctx);
  const hosts = hostsForExecution(ctx);
  const done: HostHuntResult[] = [];
  const progress =
    hosts.length > PROGRESS_ABOVE_HOSTS ? new ProgressMessage(services, job, hosts.length, done) : undefined;
  await progress?.start();

  const huntHost = async (host: InventoryHost): Promise<HostHuntResult> => {
    const stepId = `${host.name}.hunt`;
    await ctx.progress?.(stepId, 'running');
    let result: HostHuntResult;
    try {
      const r = await withHost(job, host, (session) =>
        huntOnSession(session, job.approved, indicators, bounds, services.config.WARD_SSH_COMMAND_TIMEOUT_MS),
      );
      result = { ...r, address: host.address };
    } catch (err) {
      services.log.info({ err, host: host.name, approvalRequestId: job.requestId }, 'hunt: host failed');
      result = {
        host: host.name,
        address: host.address,
        outcome: 'failed',
        reason: describeError(err),
        findings: [],
        durationMs: 0,
      };
    }
    await ctx.progress?.(stepId, result.outcome === 'failed' ? 'failed' : 'succeeded', result.reason);
    done.push(result);
    progress?.changed();
    return result;
  };
  const settled = await fanOut(hosts, services.config.WARD_SSH_CONCURRENCY, huntHost);
  // huntHost never rejects, but a host must answer even if it somehow did.
  const results = settled.map((s, i) =>
    s.status === 'fulfilled'
      ? s.value
      : {
          host: hosts[i]!.name,
          address: hosts[i]!.address,
          outcome: 'failed' as const,
          reason: describeError(s.reason),
          findings: [],
          durationMs: 0,
        },
  );
  await progress?.finish();

  const id = job.requestId;
  const texts = indicators.map(indicatorText);
  const inventory = services.inventory();
  const hits = results.filter((r) => r.outcome === 'hit').map((r) => r.host);
  const record: HuntRecord = {
    id,
    requester: job.user,
    channel: job.thread.channel,
    threadTs: job.thread.ts,
    indicators: texts,
    hits,
    clean: results.filter((r) => r.outcome === 'clean').map((r) => r.host),
    cloudHits: hits.filter((h) => inventory.hosts.get(h)?.cloud !== undefined),
  };
  await services.store
    .set(huntKey(id), JSON.stringify(record), HUNT_RECORD_TTL_MS)
    .catch((err) => services.log.warn({ err }, 'could not keep the hunt record: its buttons will not work'));

  // Results on disk with the evidence, then in the thread.
  const generatedAt = new Date(services.clock.now()).toISOString();
  const jsonl = `${results.map((r) => JSON.stringify({ hunt: id, generatedAt, indicators: texts, ...r })).join('\n')}\n`;
  const csv = huntCsv(results);
  const files = [
    { name: `hunt-${id}.jsonl`, content: jsonl, sha256: sha256(jsonl) },
    { name: `hunt-${id}.csv`, content: csv, sha256: sha256(csv) },
  ];
  const dir = resolve(services.config.WARD_EVIDENCE_DIR, id, 'hunt');
  try {
    await mkdir(dir, { recursive: true });
    for (const f of files) {
      await writeFile(join(dir, f.name), f.content, { flag: 'wx' });
      await writeFile(join(dir, `${f.name}.sha256`), `${f.sha256}  ${f.name}\n`, { flag: 'wx' });
    }
  } catch (err) {
    services.log.error({ err, dir }, 'could not keep the hunt results on disk');
  }

  await services.audit.record({
    type: 'hunt.completed',
    actor: job.user,
    requestId: id,
    command: 'hunt',
    hosts: results.map((r) => r.host),
    details: {
      indicators: texts,
      outcomes: Object.fromEntries(
        results.map((r) => [r.host, r.reason ? `${r.outcome}: ${r.reason}` : r.outcome]),
      ),
      files: Object.fromEntries(files.map((f) => [f.name, f.sha256])),
    },
  });

  await services.chat
    .postMessage(
      job.thread.channel,
      renderHuntSummary({
        huntId: id,
        indicators: texts,
        results,
        cloudHits: record.cloudHits,
        files: files.map((f) => ({ name: f.name, sha256: f.sha256 })),
        evidenceDir: dir,
      }),
      { threadTs: job.thread.ts },
    )
    .catch((err) => services.log.error({ err }, 'could not post the hunt summary'));
  for (const f of files) {
    await services.chat
      .uploadFile({
        channel: job.thread.channel,
        threadTs: job.thread.ts,
        filename: f.name,
        title: `Hunt ${id} results`,
        content: f.content,
        initialComment: `${f.name}: sha256 ${f.sha256}`,
      })
      .catch((err) => services.log.warn({ err }, 'hunt results upload failed'));
  }

  const c = countResults(results.length, results);
  const steps: StepResult[] = results.map((r) => ({
    id: `${r.host}.hunt`,
    status: r.outcome === 'failed' ? 'failed' : 'succeeded',
    ...(r.outcome === 'failed' ? { detail: r.reason } : {}),
  }));
  const report: ExecutionReport = {
    outcome: c.failed === 0 ? 'succeeded' : c.failed === c.total ? 'failed' : 'partial',
    summary: `hunt: ${c.hit} hit, ${c.clean} clean, ${c.partial} partial, ${c.failed} failed${hits.length > 0 ? ` (hits: ${hits.join(', ')})` : ''}.`,
    steps,
  };
  return { report, record, results };
}

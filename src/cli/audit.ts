/**
 * `npm run audit -- verify [--anchor seq:mac]…`, `npm run audit -- migrate` and `npm run audit -- export [--since
 * ISO]`: check the audit log's HMAC chain (against published anchors), seal an unkeyed chain from an earlier ward
 * under the key, or write the log as JSON Lines for a SIEM. Reads the Redis variables (REDIS_URL, or
 * REDIS_SENTINELS and REDIS_SENTINEL_NAME with their passwords) and WARD_ENCRYPTION_KEY, from the environment or a
 * .env file in the working directory.
 *
 * Exit codes: 0 chain intact / migrated / export written; 1 chain broken (the first broken entry is named); 2
 * nothing could be checked (no Redis configured: the in-process store dies with its process; no key; Redis
 * unreachable; bad usage).
 */
import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createRedisStore } from '../adapters/redis/redis-store.js';
import {
  AUDIT_HEAD_KEY,
  AUDIT_STREAM,
  type AuditKey,
  type ChainAnchor,
  ChainVerifier,
  deriveAuditKey,
  formatHead,
  MIGRATION_EVENT,
  nextLink,
  parseAnchor,
  parseEntry,
  parseHead,
} from '../audit/chain.js';
import { envSchema, loadRedisConfig, type RedisConfig } from '../config/env.js';
import { ConfigError, StoreUnavailableError } from '../errors.js';
import { INCIDENT_ID_PATTERN } from '../incidents/incident.js';
import { readTimeline } from '../incidents/timeline.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { Store, StreamEntry } from '../ports/store.js';

const BATCH = 1000;

const USAGE = `Usage:
  npm run audit -- verify [--anchor SEQ:MAC]…   check the whole chain with the key (WARD_ENCRYPTION_KEY), and that
                                                it still reaches each published anchor; exit 1 naming the first
                                                broken entry
  npm run audit -- verify --unkeyed             a chain written without any key (dev): consistency only
  npm run audit -- verify --incident INC-<n>    check the chain over one incident's entries (first to last)
  npm run audit -- migrate                      once, after upgrading: verify the unkeyed chain of an earlier ward
                                                and seal it under the key
  npm run audit -- export [--since ISO-8601] [--output FILE]
                                                write entries as JSON Lines for a SIEM (to FILE, else stdout:
                                                use \`npm run -s\` so that npm's banner stays out of the file)`;

export interface CliIo {
  out(text: string): Promise<void>;
  err(text: string): void;
}

/** Reads every entry of the audit stream, oldest first, in batches (a stream of any length fits in memory). */
export async function* walkStream(store: Store, start = '-'): AsyncGenerator<StreamEntry> {
  let from = start;
  for (;;) {
    const batch = await store.streamRange(AUDIT_STREAM, from, '+', BATCH);
    for (const e of batch) yield e;
    if (batch.length < BATCH) return;
    from = nextId(batch[batch.length - 1]!.id);
  }
}

/** The smallest stream id after `id` (`ms-seq` → `ms-(seq+1)`). */
function nextId(id: string): string {
  const [ms, seq] = id.split('-');
  return `${ms}-${BigInt(seq ?? '0') + 1n}`;
}

export interface VerifyCliOptions {
  key: AuditKey;
  anchors: ChainAnchor[];
}

export async function verifyAuditChain(store: Store, io: CliIo, options: VerifyCliOptions): Promise<number> {
  // The head is read before the walk: entries appended meanwhile only extend the chain past it.
  const verifier = new ChainVerifier(parseHead(await store.get(AUDIT_HEAD_KEY)), options);
  for await (const e of walkStream(store)) if (!verifier.add(e.id, e.fields)) break;
  const verdict = verifier.finish();
  if (verdict.ok) {
    const lines = [
      verdict.head
        ? `audit chain OK: ${verdict.entries} entries, head ${verdict.head.seq}:${verdict.head.hash}`
        : 'audit chain OK: the log is empty',
    ];
    for (const a of verdict.anchors) lines.push(`  reaches anchor ${a.seq}:${a.mac} unchanged`);
    if (options.anchors.length === 0) {
      lines.push(
        '  no --anchor given: a chain cut short (newest entries and head deleted) or deleted altogether cannot be told from an intact one; pass the latest anchor ward published',
      );
    }
    if (options.key === null) {
      lines.push(
        '  WARNING: checked WITHOUT a key: someone able to write Redis could have rebuilt this chain consistently',
      );
    } else if (verdict.unkeyed > 0) {
      lines.push(
        `  the first ${verdict.unkeyed} entries are unkeyed, sealed by the ${MIGRATION_EVENT} entry after them`,
      );
    }
    await io.out(`${lines.join('\n')}\n`);
    return 0;
  }
  const b = verdict.break;
  io.err(
    [
      `audit chain BROKEN at entry ${b.id}${b.seq !== null ? ` (seq ${b.seq})` : ''}: ${b.problem}`,
      `  expected: ${b.expected}`,
      `  found:    ${b.found}`,
      `Entries before it verified; nothing after it can be trusted until this is explained.`,
      '',
    ].join('\n'),
  );
  return 1;
}

/**
 * The one-time migration of an unkeyed chain (from a ward before keyed audit): verifies it as it is, then appends
 * one keyed `audit.migrated` entry whose `prev` is the unkeyed chain's last hash. Existing entries, their stream
 * ids and exported hashes stay as they are; from that entry on every link is a MAC, and rewriting anything before it
 * breaks the link into a MAC that cannot be recomputed without the key.
 */
export async function migrateAuditChain(store: Store, io: CliIo, key: Buffer, clock: Clock): Promise<number> {
  const current = await store.get(AUDIT_HEAD_KEY);
  const head = parseHead(current);
  if (head?.keyed) {
    await io.out(`audit chain is already keyed (head ${head.seq}): nothing to migrate\n`);
    return 0;
  }
  const verifier = new ChainVerifier(head, { key: null });
  for await (const e of walkStream(store)) if (!verifier.add(e.id, e.fields)) break;
  const verdict = verifier.finish();
  if (!verdict.ok) {
    io.err('The unkeyed chain does not verify, so it was not sealed:\n');
    return verifyAuditChain(store, io, { key: null, anchors: [] });
  }
  const event = {
    type: MIGRATION_EVENT,
    outcome: 'sealed',
    details: { unkeyedEntries: verdict.entries, unkeyedHead: verdict.head?.hash ?? null },
  };
  const link = nextLink(head, new Date(clock.now()).toISOString(), event, key);
  const id = await store.streamAppendGuarded(AUDIT_STREAM, link.fields, {
    key: AUDIT_HEAD_KEY,
    expected: current,
    next: formatHead(link.head),
  });
  if (id === null) {
    io.err(
      'The audit chain changed while it was being migrated (is a ward still running without the key?): run migrate again.\n',
    );
    return 2;
  }
  await io.out(
    `audit chain migrated: ${verdict.entries} unkeyed entries verified and sealed by entry ${link.head.seq} (${MIGRATION_EVENT}); anchor ${link.head.seq}:${link.head.hash}\n`,
  );
  return 0;
}

/** Verifies the chain over one incident's entries: exit 0 verified, 1 broken, 2 no such entries. */
export async function verifyIncident(
  store: Store,
  io: CliIo,
  incident: string,
  key: AuditKey,
): Promise<number> {
  const t = await readTimeline(store, incident, key);
  if (!t.range || !t.verdict) {
    io.err(`no audit entries are attached to ${incident}\n`);
    return 2;
  }
  if (t.verdict.ok) {
    await io.out(
      `${incident}: audit chain OK over seq ${t.range.from}–${t.range.to} (${t.entries.length} incident entries)\n`,
    );
    return 0;
  }
  io.err(
    `${incident}: audit chain BROKEN over seq ${t.range.from}–${t.range.to} at seq ${t.verdict.seq ?? '?'}: ${t.verdict.problem}\n`,
  );
  return 1;
}

export async function exportAudit(store: Store, io: CliIo, sinceMs?: number): Promise<number> {
  let n = 0;
  for await (const e of walkStream(store, sinceMs === undefined ? '-' : `${sinceMs}-0`)) {
    const entry = parseEntry(e.fields['entry']);
    const line = entry
      ? {
          id: e.id,
          seq: entry.seq,
          at: entry.at,
          event: entry.event,
          prev: entry.prev,
          ...(e.fields['mac'] !== undefined ? { mac: e.fields['mac'] } : { hash: e.fields['hash'] }),
        }
      : { id: e.id, unreadable: e.fields };
    await io.out(`${JSON.stringify(line)}\n`);
    n++;
  }
  io.err(`exported ${n} audit entries\n`);
  return 0;
}

export async function runAuditCli(
  argv: string[],
  env: Record<string, string | undefined>,
  io: CliIo,
): Promise<number> {
  const [action, ...rest] = argv;
  let sinceMs: number | undefined;
  let output: string | undefined;
  const anchors: ChainAnchor[] = [];
  let unkeyed = false;
  let incident: string | undefined;
  if (action === 'verify') {
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i]!;
      if (arg === '--unkeyed') {
        unkeyed = true;
        continue;
      }
      const [flag, inline] = arg.includes('=') ? arg.split(/=(.*)/s) : [arg];
      const value = inline ?? rest[++i];
      if (flag === '--incident' && value !== undefined && INCIDENT_ID_PATTERN.test(value)) {
        incident = value;
        continue;
      }
      const anchor = flag === '--anchor' && value !== undefined ? parseAnchor(value) : null;
      if (anchor === null) {
        io.err(
          `Unknown or incomplete argument ${JSON.stringify(arg)} (an anchor is SEQ:MAC as ward published it).\n${USAGE}\n`,
        );
        return 2;
      }
      anchors.push(anchor);
    }
  } else if (action === 'export') {
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i]!;
      const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg];
      const value = inline ?? rest[++i];
      if ((flag !== '--since' && flag !== '--output') || value === undefined) {
        io.err(`Unknown or incomplete argument ${JSON.stringify(arg)}.\n${USAGE}\n`);
        return 2;
      }
      if (flag === '--output') {
        output = value;
        continue;
      }
      sinceMs = Date.parse(value);
      if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(sinceMs)) {
        io.err(`--since must be an ISO-8601 date or time such as 2025-01-31 or 2025-01-31T12:00:00Z.\n`);
        return 2;
      }
    }
  } else if (action !== 'migrate' || rest.length > 0) {
    io.err(`${USAGE}\n`);
    return 2;
  }

  let redis: RedisConfig | undefined;
  try {
    redis = loadRedisConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`${err.userMessage}\n`);
    return 2;
  }
  const parsed = envSchema
    .pick({ WARD_ENCRYPTION_KEY: true })
    .safeParse({ WARD_ENCRYPTION_KEY: env['WARD_ENCRYPTION_KEY'] });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    io.err(`${new ConfigError('ward configuration (environment)', problems).userMessage}\n`);
    return 2;
  }
  if (redis === undefined) {
    io.err(
      'Neither REDIS_URL nor REDIS_SENTINELS is set, so ward keeps its audit log in the in-process store, which is gone once ward exits: there is nothing to verify or export. Set REDIS_URL or REDIS_SENTINELS and REDIS_SENTINEL_NAME (the same as ward uses).\n',
    );
    return 2;
  }

  const key = deriveAuditKey(parsed.data.WARD_ENCRYPTION_KEY);
  if (key === null && (action === 'migrate' || (action === 'verify' && !unkeyed))) {
    io.err(
      `WARD_ENCRYPTION_KEY is not set: the audit chain is checked with a key derived from it, so ${action} needs the same key ward uses. (A ward run without any key writes an unkeyed chain: \`verify --unkeyed\` checks its consistency only.)\n`,
    );
    return 2;
  }

  const store = createRedisStore(redis);
  try {
    await store.connect();
    if (action === 'verify' && incident !== undefined)
      return await verifyIncident(store, io, incident, unkeyed ? null : key);
    if (action === 'verify') return await verifyAuditChain(store, io, { key: unkeyed ? null : key, anchors });
    if (action === 'migrate') return await migrateAuditChain(store, io, key!, systemClock);
    if (output === undefined) return await exportAudit(store, io, sinceMs);
    const file = createWriteStream(output, { flags: 'wx' });
    await once(file, 'open');
    const fileIo: CliIo = {
      out: (text) => new Promise((resolve, reject) => file.write(text, (e) => (e ? reject(e) : resolve()))),
      err: io.err,
    };
    try {
      return await exportAudit(store, fileIo, sinceMs);
    } finally {
      await new Promise((r) => file.end(r));
    }
  } catch (err) {
    if (err instanceof StoreUnavailableError) {
      // Never print REDIS_URL itself: it may carry a password.
      io.err(
        redis.mode === 'sentinel'
          ? 'Cannot reach a Redis primary through REDIS_SENTINELS: are the sentinels running, reachable from here, and is REDIS_SENTINEL_NAME the monitored group?\n'
          : 'Cannot reach Redis at REDIS_URL: is it running and reachable from here?\n',
      );
      return 2;
    }
    throw err;
  } finally {
    await store.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const io: CliIo = {
    out: (text) =>
      new Promise<void>((resolve, reject) =>
        process.stdout.write(text, (err) => (err ? reject(err) : resolve())),
      ),
    err: (text) => void process.stderr.write(text),
  };
  runAuditCli(process.argv.slice(2), process.env, io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`audit: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}

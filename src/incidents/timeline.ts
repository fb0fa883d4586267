import {
  AUDIT_HEAD_KEY,
  AUDIT_STREAM,
  type AuditKey,
  linkOf,
  parseEntry,
  parseHead,
  type RangeVerdict,
  verifyRange,
} from '../audit/chain.js';
import type { AuditEvent } from '../ports/audit.js';
import type { Store } from '../ports/store.js';
import { outcomeLabel } from '../render/outcome.js';
import { dateTime } from '../render/time.js';

/** One timeline entry: an audit entry attached to an incident, with what proves it. */
export interface TimelineEntry {
  seq: number;
  at: string;
  /** The stored chain link: the entry's HMAC (keyed chain) or sha256 (unkeyed). */
  hash: string;
  event: AuditEvent;
}

export interface Timeline {
  entries: TimelineEntry[];
  /** Whether the chain verified over the entries' range (first to last seq); `null` when there are none. */
  verdict: RangeVerdict | null;
  range: { from: number; to: number } | null;
}

/** Reads an incident's entries from the audit stream and verifies the chain over their range. */
export async function readTimeline(store: Store, incident: string, key: AuditKey): Promise<Timeline> {
  // Read until the stream and the head agree: an entry appended between the two reads would otherwise look like
  // an end of chain that does not match the head.
  let stream = await store.streamRange(AUDIT_STREAM);
  let head = parseHead(await store.get(AUDIT_HEAD_KEY));
  for (let i = 0; i < 5 && lastSeq(stream) !== (head?.seq ?? 0); i++) {
    stream = await store.streamRange(AUDIT_STREAM);
    head = parseHead(await store.get(AUDIT_HEAD_KEY));
  }
  const entries: TimelineEntry[] = [];
  for (const e of stream) {
    const parsed = parseEntry(e.fields['entry']);
    if (parsed?.event.incident !== incident) continue;
    entries.push({ seq: parsed.seq, at: parsed.at, hash: linkOf(e.fields) ?? '', event: parsed.event });
  }
  if (entries.length === 0) return { entries, verdict: null, range: null };
  const range = { from: entries[0]!.seq, to: entries[entries.length - 1]!.seq };
  return { entries, verdict: verifyRange(stream, range.from, range.to, head, key), range };
}

function lastSeq(stream: readonly { fields: Record<string, string> }[]): number {
  const last = stream.at(-1);
  return last === undefined ? 0 : (parseEntry(last.fields['entry'])?.seq ?? -1);
}

const detail = (e: AuditEvent, key: string): string | undefined => {
  const v = e.details?.[key];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
};

/** One line of plain text for an entry (not escaped: renderers escape for their medium). */
export function describeEntry(e: AuditEvent): string {
  const hosts = e.hosts && e.hosts.length > 0 ? ` on ${e.hosts.join(', ')}` : '';
  const req = e.requestId ? ` (${e.requestId})` : '';
  switch (e.type) {
    case 'incident.opened':
      return `opened: ${detail(e, 'title') ?? ''} (${detail(e, 'severity') ?? ''})`;
    case 'incident.note':
      return `note: ${detail(e, 'text') ?? ''}${detail(e, 'permalink') ? ` (${detail(e, 'permalink')})` : ''}`;
    case 'incident.update':
      return `update: ${detail(e, 'text') ?? ''}`;
    case 'incident.role':
      return `role ${detail(e, 'role') ?? ''} → ${detail(e, 'user') ?? ''}`;
    case 'incident.severity':
      return `severity ${detail(e, 'from') ?? ''} → ${detail(e, 'to') ?? ''}`;
    case 'incident.status':
      return `status ${detail(e, 'from') ?? ''} → ${detail(e, 'to') ?? ''}`;
    case 'incident.closed':
      return `closed: ${detail(e, 'summary') ?? ''}`;
    case 'incident.channel_created':
      return `channel #${detail(e, 'name') ?? ''} created`;
    case 'incident.alert_linked':
      return `alert linked: ${detail(e, 'title') ?? ''} (${detail(e, 'fingerprint') ?? ''})`;
    case 'artifact.collected':
      return `evidence ${detail(e, 'bundle') ?? ''}${hosts} sha256 ${detail(e, 'sha256') ?? ''}`;
    case 'approval.requested':
      return `requested ${e.command ?? ''}${hosts}${req}${detail(e, 'reason') ? `: ${detail(e, 'reason')}` : ''}`;
    case 'approval.vote':
      return `vote ${e.outcome ?? ''} on ${e.command ?? ''}${req}`;
    case 'execution.finished':
      return `${e.command ?? 'execution'}${hosts}: ${outcomeLabel(e.outcome, e.details?.['dryRun'] === true).label}${req}`;
    case 'command.refused':
      return `refused: ${e.command ?? ''} (${e.outcome ?? ''})`;
    default:
      return `${e.type}${e.command ? ` ${e.command}` : ''}${hosts}${e.outcome ? ` ${e.outcome}` : ''}${req}`;
  }
}

function verdictLine(t: Timeline): string {
  if (!t.range || !t.verdict) return 'Audit chain over the exported range: nothing to verify (no entries).';
  return t.verdict.ok
    ? `Audit chain verified over the exported range (seq ${t.range.from}–${t.range.to}): true`
    : `Audit chain verified over the exported range (seq ${t.range.from}–${t.range.to}): false — seq ${t.verdict.seq ?? '?'}: ${t.verdict.problem}`;
}

/** `INC-<n>-timeline.jsonl`: one JSON object per entry, then the verification line. */
export function timelineJsonl(incident: string, t: Timeline): string {
  const lines = t.entries.map((e) =>
    JSON.stringify({
      time: e.at,
      actor: e.event.actor ?? null,
      type: e.event.type,
      text: describeEntry(e.event),
      seq: e.seq,
      hash: e.hash,
      ...(e.event.type === 'artifact.collected'
        ? { evidence: { bundle: e.event.details?.['bundle'], sha256: e.event.details?.['sha256'] } }
        : {}),
    }),
  );
  lines.push(
    JSON.stringify({
      incident,
      verified: t.verdict?.ok ?? null,
      range: t.range,
      ...(t.verdict && !t.verdict.ok ? { problem: t.verdict.problem, atSeq: t.verdict.seq } : {}),
    }),
  );
  return `${lines.join('\n')}\n`;
}

/** Markdown table cells: no pipes or newlines from user text. */
export function mdCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** `INC-<n>-timeline.md`: a table of entries, then the verification line. */
export function timelineMarkdown(incident: string, title: string, t: Timeline): string {
  const rows = t.entries.map(
    (e) =>
      `| ${docTime(e.at)} | ${mdCell(e.event.actor ?? '')} | ${e.event.type} | ${mdCell(describeEntry(e.event))} | ${e.seq} | \`${e.hash}\` |`,
  );
  return [
    `# ${incident} timeline: ${mdCell(title)}`,
    '',
    '| Time | Actor | Type | Text | Audit seq | Entry hash |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    verdictLine(t),
    '',
  ].join('\n');
}

export { verdictLine };

/** An audit entry's ISO time as a document shows it (`2026-12-01 14:32:05 UTC`); the .jsonl keeps the ISO string. */
export function docTime(at: string): string {
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? at : dateTime(ms);
}

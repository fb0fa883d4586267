import { outcomeLabel } from '../render/outcome.js';
import { dateTime } from '../render/time.js';
import type { Incident } from './incident.js';
import { formatDuration } from './render.js';
import { describeEntry, docTime, mdCell, type Timeline, verdictLine } from './timeline.js';

export interface Containment {
  hosts: Array<{ host: string; since: number; requestId: string; inIncident: boolean }>;
  ips: Array<{ host: string; address: string }>;
  instances: Array<{ instanceId: string; requestId: string; inIncident: boolean }>;
}

const iso = (ms: number | undefined): string => (ms === undefined ? '—' : dateTime(ms));

/**
 * The post-incident report draft (markdown). Containment still in place comes first: a host left locked down or an
 * instance left in quarantine after "resolved" is the thing most worth noticing. User text is kept out of markdown
 * structure (table cells escape pipes and newlines).
 */
export function buildReport(incident: Incident, timeline: Timeline, containment: Containment): string {
  const t = incident.times;
  const out: string[] = [`# ${incident.id} post-incident report (draft): ${mdCell(incident.title)}`, ''];

  const still = [
    ...containment.hosts.map(
      (h) =>
        `- Host **${h.host}** is still locked down (since ${iso(h.since)}, request ${h.requestId}${h.inIncident ? ', from this incident' : ''}): \`/ward release ${h.host}\` when it is safe.`,
    ),
    ...containment.ips.map(
      (i) => `- Address **${i.address}** is still blocked on ${i.host} (blocked during this incident).`,
    ),
    ...containment.instances.map(
      (q) =>
        `- Instance **${q.instanceId}** is still quarantined (request ${q.requestId}${q.inIncident ? ', from this incident' : ''}): \`/ward unquarantine ${q.instanceId}\` when it is safe.`,
    ),
  ];
  if (still.length > 0) out.push('> **:warning: Containment still in place**', '', ...still, '');
  else out.push('No containment is left in place.', '');

  out.push(
    '## Summary',
    '',
    incident.summary ?? '(none given)',
    '',
    '## Impact (fill in)',
    '',
    '- Users or customers affected: ',
    '- Systems affected: ',
    '- Data exposed or lost: ',
    '- Duration of impact: ',
    '- Detection source: ' + (incident.alert ? `alert ${mdCell(incident.alert.title)}` : 'manual'),
    '',
    '## Key times',
    '',
    `| Detected | Acknowledged | First containment | Resolved | Time to contain | Time to resolve |`,
    '| --- | --- | --- | --- | --- | --- |',
    `| ${iso(t.detected)} | ${iso(t.acknowledged)} | ${iso(t.firstContainment)} | ${iso(t.resolved)} | ${formatDuration(t.firstContainment === undefined ? undefined : t.firstContainment - t.detected)} | ${formatDuration(t.resolved === undefined ? undefined : t.resolved - t.detected)} |`,
    '',
    `Severity ${incident.severity}. Roles: ${(['commander', 'scribe', 'comms'] as const).map((r) => `${r} ${incident.roles[r] ?? '—'}`).join(', ')}.`,
    '',
  );

  // Every action: a request with its requester, approvers and outcome.
  const actions = new Map<
    string,
    { command: string; hosts: string; requester: string; approvers: string[]; outcome: string }
  >();
  for (const { event: e } of timeline.entries) {
    if (!e.requestId) continue;
    if (e.type === 'approval.requested') {
      actions.set(e.requestId, {
        command: e.command ?? '?',
        hosts: (e.hosts ?? []).join(', '),
        requester: e.actor ?? '?',
        approvers: [],
        outcome: 'pending',
      });
    }
    const a = actions.get(e.requestId);
    if (!a) continue;
    if (e.type === 'approval.vote' && e.outcome === 'approved' && e.actor) a.approvers.push(e.actor);
    if (e.type === 'approval.denied') a.outcome = 'denied';
    if (e.type === 'approval.expired') a.outcome = 'expired';
    if (e.type === 'approval.cancelled') a.outcome = 'cancelled';
    if (e.type === 'execution.finished')
      a.outcome = outcomeLabel(e.outcome ?? 'finished', e.details?.['dryRun'] === true).label;
    if (e.type === 'execution.interrupted') a.outcome = 'interrupted';
    if (e.type === 'execution.refused') a.outcome = 'refused';
  }
  out.push(
    '## Actions',
    '',
    '| Request | Command | Hosts | Requester | Approvers | Outcome |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const [id, a] of actions) {
    out.push(
      `| ${id} | ${a.command} | ${a.hosts} | ${a.requester} | ${a.approvers.join(', ') || '—'} | ${a.outcome} |`,
    );
  }
  if (actions.size === 0) out.push('| — | | | | | |');
  out.push('', '## Evidence', '');
  const evidence = timeline.entries.filter((e) => e.event.type === 'artifact.collected');
  for (const e of evidence) {
    out.push(
      `- ${String(e.event.details?.['bundle'] ?? '?')} (${(e.event.hosts ?? []).join(', ')}): sha256 \`${String(e.event.details?.['sha256'] ?? '?')}\``,
    );
  }
  if (evidence.length === 0) out.push('(none collected through ward)');
  out.push(
    '',
    '## Timeline',
    '',
    '| Time | Actor | Type | Text | Audit seq |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const e of timeline.entries) {
    out.push(
      `| ${docTime(e.at)} | ${mdCell(e.event.actor ?? '')} | ${e.event.type} | ${mdCell(describeEntry(e.event))} | ${e.seq} |`,
    );
  }
  out.push('', verdictLine(timeline), '');
  return out.join('\n');
}

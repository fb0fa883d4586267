import type { ChatMessage } from '../ports/chat.js';
import { actions, context, esc, fields, header, mention, section } from '../render/blocks.js';
import { clockTime, dateTime } from '../render/time.js';
import type { Incident, OpenProgress } from './incident.js';

/** `1h 05m`, `3m 20s`: a duration for people. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

function who(user: string | undefined): string {
  return user === undefined ? '(none)' : mention(user);
}

/** The linked alert, one line (every field escaped: alert text is written by whoever sent the alert). */
function alertLine(incident: Incident): string {
  const a = incident.alert;
  if (!a) return '(none)';
  return `${esc(a.title)}${a.host ? ` on ${esc(a.host)}` : ''} (\`${esc(a.fingerprint.slice(0, 16))}\`)`;
}

/**
 * A title for a plain_text header. plain_text never becomes a mention, but a copy of the header (a notification, a
 * client that renders it differently) should not carry `<!channel>` either: angle brackets become look-alikes.
 */
function plainTitle(incident: Incident): string {
  return `${incident.id}: ${incident.title.replace(/</g, '‹').replace(/>/g, '›')}`;
}

/** The pinned header of an incident channel, updated as severity, status and roles change. */
export function renderIncidentHeader(incident: Incident): ChatMessage {
  const text = `${incident.id}: ${esc(incident.title)} (${incident.severity}, ${incident.status})`;
  return {
    text,
    blocks: [
      header(plainTitle(incident)),
      fields([
        ['Severity', incident.severity],
        ['Status', incident.status],
        ['Commander', who(incident.roles.commander)],
        ['Linked alert', alertLine(incident)],
        ['Started', dateTime(incident.times.acknowledged)],
        ['Opened by', who(incident.requester)],
      ]),
      context(
        'Everything done here with `/ward` is attached to this incident. `/ward incident` shows the card, `/ward incident note "…"` adds to the timeline.',
      ),
    ],
  };
}

/** The announcement in the originating and the broadcast channel. */
export function renderAnnouncement(incident: Incident): ChatMessage {
  const where = incident.open.channel ? `<#${incident.open.channel.id}>` : '(channel not created yet)';
  const text = `:rotating_light: ${incident.id} opened: ${esc(incident.title)} (${incident.severity}). Commander ${who(incident.roles.commander)}. Join ${where}.`;
  return { text, blocks: [section(text)] };
}

const STEP_NAMES: Array<[keyof OpenProgress, string]> = [
  ['channel', 'create the channel'],
  ['invited', 'invite the responders'],
  ['headerTs', 'post the header'],
  ['pinned', 'pin the header'],
  ['announced', 'announce it here'],
  ['broadcast', 'announce it in the broadcast channel'],
];

/** What opening an incident did and did not do, with a Retry button: a retry resumes, it never starts over. */
export function renderOpenFailure(incident: Incident, withBroadcast: boolean): ChatMessage {
  const f = incident.open.failure;
  const lines = STEP_NAMES.filter(([k]) => k !== 'broadcast' || withBroadcast).map(([k, name]) => {
    const done = incident.open[k] !== undefined && incident.open[k] !== false;
    const failed = !done && f?.step === k;
    return `${done ? ':white_check_mark:' : failed ? ':x:' : ':white_circle:'} ${name}${failed ? ` — Slack said \`${esc(f.error)}\`` : ''}${k === 'channel' && done ? ` (<#${incident.open.channel!.id}>)` : ''}`;
  });
  const text = `:warning: ${incident.id} is recorded but opening it stopped part-way${f ? `: Slack refused to ${STEP_NAMES.find(([k]) => k === f.step)?.[1] ?? f.step} (${esc(f.error)})` : ''}. Retry resumes from there; it never creates a second channel.`;
  return {
    text,
    blocks: [
      section(text),
      section(lines.join('\n')),
      actions(`incident.resume.${incident.id}`, [
        { text: 'Retry', actionId: 'incident.resume', value: incident.id, style: 'primary' },
      ]),
      context(`Or type \`/ward incident resume ${incident.id}\`.`),
    ],
  };
}

export interface CardFacts {
  openRequests: string[];
  hostsContained: string[];
  evidence: number;
  now: number;
}

/** `/ward incident`: where the incident stands. */
export function renderCard(incident: Incident, facts: CardFacts): ChatMessage {
  const t = incident.times;
  const at = (ms: number | undefined) => (ms === undefined ? '—' : clockTime(ms, facts.now));
  const roleText =
    (['commander', 'scribe', 'comms'] as const).map((r) => `${r}: ${who(incident.roles[r])}`).join(' · ') ||
    '(none)';
  const text = `${incident.id}: ${esc(incident.title)} (${incident.severity}, ${incident.status})`;
  return {
    text,
    blocks: [
      header(plainTitle(incident)),
      fields([
        ['Status', incident.status],
        ['Severity', incident.severity],
        ['Open requests', facts.openRequests.length === 0 ? 'none' : facts.openRequests.join(', ')],
        [
          'Hosts contained',
          facts.hostsContained.length === 0 ? 'none' : facts.hostsContained.map(esc).join(', '),
        ],
        ['Evidence bundles', String(facts.evidence)],
        ['Since start', formatDuration((t.resolved ?? facts.now) - t.acknowledged)],
        [
          'Time to contain',
          formatDuration(t.firstContainment === undefined ? undefined : t.firstContainment - t.detected),
        ],
        ['Time to resolve', formatDuration(t.resolved === undefined ? undefined : t.resolved - t.detected)],
      ]),
      section(`*Roles* ${roleText}`),
      context(
        `detected ${at(t.detected)} · acknowledged ${at(t.acknowledged)} · first containment ${at(t.firstContainment)} · resolved ${at(t.resolved)}`,
      ),
    ],
  };
}

import type { HostHuntResult, HuntOutcome } from '../actions/hunt.js';
import type { ChatMessage } from '../ports/chat.js';
import { actions, type ButtonSpec, clip, code, context, esc, header, section } from './blocks.js';

/** The counts a progress line and a summary show. */
export interface HuntCounts {
  total: number;
  done: number;
  hit: number;
  clean: number;
  partial: number;
  failed: number;
}

export function countResults(total: number, results: readonly HostHuntResult[]): HuntCounts {
  const n = (o: HuntOutcome) => results.filter((r) => r.outcome === o).length;
  return {
    total,
    done: results.length,
    hit: n('hit'),
    clean: n('clean'),
    partial: n('partial'),
    failed: n('failed'),
  };
}

/** `14/40 hosts done, 2 hits, 1 failed`: the live line of a hunt on many hosts. */
export function renderHuntProgress(huntId: string, c: HuntCounts): ChatMessage {
  const line = `${c.done}/${c.total} hosts done, ${c.hit} hit${c.hit === 1 ? '' : 's'}, ${c.failed} failed`;
  return { text: `:mag: Hunt ${huntId}: ${line}`, blocks: [section(`:mag: Hunt ${code(huntId)}: ${line}`)] };
}

/** What a click on a hunt's action button carries: only the hunt id; the hit hosts are read back from the store. */
export interface HuntButtonValue {
  hunt: string;
}

export const HUNT_ACTIONS = {
  forensics: 'hunt.forensics',
  lockdown: 'hunt.lockdown',
  blockPort: 'hunt.block-port',
  quarantine: 'hunt.quarantine',
  unblockPort: 'hunt.unblock-port',
} as const;

export interface HuntSummary {
  huntId: string;
  indicators: string[];
  results: HostHuntResult[];
  /** Hit hosts that are cloud instances (Quarantine hits is offered only for them). */
  cloudHits: string[];
  files: Array<{ name: string; sha256: string }>;
  evidenceDir: string;
}

const MAX_LINES = 40;

/**
 * The end of a hunt: hits per host with what matched, the counts, every failed (and partial) host with why, the
 * result files with their hashes, then buttons that turn the hits into one request each (normal policy applies).
 */
export function renderHuntSummary(s: HuntSummary): ChatMessage {
  const c = countResults(s.results.length, s.results);
  const hits = s.results.filter((r) => r.outcome === 'hit');
  const title = `Hunt ${s.huntId}: ${c.hit} hit${c.hit === 1 ? '' : 's'} on ${c.total} host${c.total === 1 ? '' : 's'}`;
  const blocks = [
    header(title),
    section(`*Indicators:* ${s.indicators.map(code).join(' ')}`),
    section(
      `:red_circle: ${c.hit} hit · :white_check_mark: ${c.clean} clean · :large_yellow_circle: ${c.partial} partial · :x: ${c.failed} failed`,
    ),
  ];
  const hitLines = hits.slice(0, MAX_LINES).map((r) => {
    const what = r.findings
      .filter((f) => f.outcome === 'hit')
      .map(
        (f) =>
          `${code(f.indicator)}: ${f.matches.slice(0, 5).map(esc).join('; ')}${f.matches.length > 5 ? ` (+${f.matches.length - 5} more)` : ''}`,
      )
      .join(' · ');
    return `• *${esc(r.host)}*: ${what}`;
  });
  if (hits.length > MAX_LINES)
    hitLines.push(`…and ${hits.length - MAX_LINES} more hit hosts (see the files)`);
  if (hitLines.length > 0) blocks.push(section(clip(`*Hits*\n${hitLines.join('\n')}`, 3000)));
  for (const [label, outcome] of [
    ['Failed', 'failed'],
    ['Partial', 'partial'],
  ] as const) {
    const rows = s.results.filter((r) => r.outcome === outcome);
    if (rows.length === 0) continue;
    const text = rows
      .slice(0, MAX_LINES)
      .map((r) => `• *${esc(r.host)}*: ${esc(r.reason ?? outcome)}`)
      .join('\n');
    blocks.push(section(clip(`*${label}*\n${text}`, 3000)));
  }
  const buttons: ButtonSpec[] = [];
  const value = JSON.stringify({ hunt: s.huntId } satisfies HuntButtonValue);
  if (hits.length > 0) {
    const names = hits.map((h) => h.host).join(', ');
    buttons.push(
      { text: 'Collect forensics on hits', actionId: HUNT_ACTIONS.forensics, value },
      { text: 'Lock down hits', actionId: HUNT_ACTIONS.lockdown, value, style: 'danger' },
      { text: 'Close a port on hits', actionId: HUNT_ACTIONS.blockPort, value },
    );
    if (s.cloudHits.length > 0)
      buttons.push({ text: 'Quarantine hits', actionId: HUNT_ACTIONS.quarantine, value, style: 'danger' });
    blocks.push(
      context(
        `Each button opens one request for exactly the hit hosts (${esc(clip(names, 500))}); the usual approvals apply.`,
      ),
    );
  }
  if (c.clean > 0)
    buttons.push({ text: 'Reopen a port on clean hosts', actionId: HUNT_ACTIONS.unblockPort, value });
  if (buttons.length > 0) blocks.push(actions(`hunt.${s.huntId}`.slice(0, 255), buttons));
  blocks.push(
    context(
      `Full results: ${s.files.map((f) => `${esc(f.name)} (sha256 ${f.sha256})`).join(', ')}; kept in ${esc(s.evidenceDir)}.`,
    ),
  );
  return { text: `:mag: ${title}: ${c.clean} clean, ${c.partial} partial, ${c.failed} failed`, blocks };
}

/** The modal asking which port to close (or reopen) on a hunt's hosts. */
export function renderPortModal(
  kind: 'block' | 'unblock',
  huntId: string,
  hosts: readonly string[],
): Record<string, unknown> {
  const verb = kind === 'block' ? 'Close' : 'Reopen';
  return {
    type: 'modal',
    callback_id: kind === 'block' ? HUNT_ACTIONS.blockPort : HUNT_ACTIONS.unblockPort,
    private_metadata: JSON.stringify({ hunt: huntId } satisfies HuntButtonValue),
    title: { type: 'plain_text', text: `${verb} a port` },
    submit: { type: 'plain_text', text: 'Request' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      section(
        `${verb} a port on ${hosts.length} host(s) of hunt ${code(huntId)}: ${esc(clip(hosts.join(', '), 2000))}`,
      ),
      {
        type: 'input',
        block_id: 'port',
        label: { type: 'plain_text', text: 'Port (e.g. 8080 or 53/udp)' },
        element: { type: 'plain_text_input', action_id: 'value' },
      },
      {
        type: 'input',
        block_id: 'reason',
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: 'value' },
      },
    ],
  };
}

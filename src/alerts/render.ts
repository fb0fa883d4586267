import type { ChatMessage } from '../ports/chat.js';
import { actions, type ButtonSpec, clip, context, esc, fields, header, section } from '../render/blocks.js';
import { clockTime } from '../render/time.js';
import { userText, userTextPlain } from '../render/user-text.js';
import type { Alert, Severity } from './alert.js';
import { huntIndicatorsFor } from './hunt-suggest.js';

/** What an alert's Slack message shows besides the alert itself. */
export interface AlertMessageState {
  count: number;
  firstSeen: string;
  lastSeen: string;
  status: 'firing' | 'resolved';
  /** The inventory host the alert's host hint matched (by name, address or EC2 instance id), if any. */
  inventoryHost?: string | undefined;
  /** A line for the reader, e.g. why the message landed in the fallback channel. */
  note?: string | undefined;
  /** Requests opened from this message's buttons (the latest few), shown as "→ lockdown requested by @riley". */
  requested?: Array<{ command: string; user: string }> | undefined;
}

const severityEmoji: Record<Severity, string> = {
  info: ':information_source:',
  warning: ':warning:',
  error: ':red_circle:',
  critical: ':rotating_light:',
};

/** `<!subteam^S…>` for a user group, `<@U…>` for a user: the only Slack markup ward writes around alert text. */
export function mentionMarkup(principal: string): string {
  return principal.startsWith('S') ? `<!subteam^${principal}>` : `<@${principal}>`;
}

/**
 * What a suggested-action button carries (`alert.suggest.<command>`); read back by the click handler. The alert's
 * own fingerprint and title (any length: an Alertmanager fingerprint can be thousands of characters, and Slack
 * allows 2000 per value) stay in the store: `ref` names the alert's message record there, which keeps them for
 * the record's lifetime (its dedupe window plus a day).
 */
export interface SuggestButtonValue {
  command: string;
  /** An inventory host name, never the raw hint: buttons exist only for hosts ward knows. */
  host: string;
  /** The id of the alert's message record (`ward:alert:message:<ref>`). */
  ref: string;
  /** `hunt` only: the indicators derived from the alert (re-validated on click); the hunt runs on all hosts. */
  indicators?: string[] | undefined;
}

/** How much of a fingerprint a message shows (enough to find it in the logs and the audit). */
export const shownFingerprintLength = 32;

/**
 * One alert's message. Every payload-supplied string is escaped: an alert title such as `<!channel>` must not
 * become a mention. Suggested commands become buttons (`alert.suggest.<command>`) only when the alert's host
 * matched the inventory; the button value carries the inventory host name. A click opens a ward request through
 * the normal path (roles, approvals, MFA); the button never runs anything itself.
 */
export function renderAlertMessage(
  alert: Alert,
  state: AlertMessageState,
  route: { rule: string; mention?: string | undefined; suggest: readonly string[] },
  /** The message record's id, which the buttons refer to; without it there are no buttons. */
  ref?: string,
): ChatMessage {
  const resolved = state.status === 'resolved';
  const icon = resolved ? ':white_check_mark:' : severityEmoji[alert.severity];
  const title = `${resolved ? 'Resolved: ' : ''}${userTextPlain(alert.title, 300)}`;
  const hostText =
    alert.host === undefined
      ? '(none)'
      : state.inventoryHost === undefined || state.inventoryHost === alert.host
        ? userText(alert.host, 200)
        : `${esc(state.inventoryHost)} (${userText(alert.host, 200)})`;
  const blocks = [
    header(title),
    section(`${icon} ${userText(alert.summary || alert.title, 2800)}`),
    fields([
      ['Severity', alert.severity],
      ['Status', resolved ? 'resolved' : 'firing'],
      ['Source', alert.source],
      ['Host', hostText],
      ['Seen', state.count === 1 ? 'once' : `${state.count} times`],
      ['Last seen', state.lastSeen],
    ]),
  ];
  const host = state.inventoryHost;
  const buttons: ButtonSpec[] =
    resolved || host === undefined || ref === undefined
      ? []
      : route.suggest.flatMap((command): ButtonSpec[] => {
          const value: SuggestButtonValue = { command, host, ref };
          if (command !== 'hunt') {
            return [
              {
                text: `${command} ${host}`,
                actionId: `alert.suggest.${command}`,
                value: JSON.stringify(value),
              },
            ];
          }
          // "Where else is this?": the exact hunt is shown (in the confirm dialog) before it runs.
          const indicators = huntIndicatorsFor(alert);
          const json = JSON.stringify({ ...value, indicators });
          // A button value holds 2000 characters: a hunt too long for one is left to be typed, never cut.
          if (indicators.length === 0 || json.length > 2000) return [];
          const exact = `/ward hunt all ${indicators.join(' ')}`;
          return [
            {
              text: `hunt all: ${indicators.join(' ')}`,
              actionId: 'alert.suggest.hunt',
              value: json,
              confirm: {
                title: 'Hunt every host?',
                text: `\`${esc(exact)}\``,
                confirm: 'Hunt',
                deny: 'Cancel',
              },
            },
          ];
        });
  // Every firing alert can become an incident; one alert opens at most one (src/incidents/). Like the suggested
  // actions, the button carries only a reference to the stored alert: its text is read back from ward's own record.
  if (!resolved && ref !== undefined) {
    buttons.push({ text: 'Open incident', actionId: 'incident.open_alert', value: JSON.stringify({ ref }) });
  }
  if (alert.link !== undefined && /^https?:\/\//.test(alert.link)) {
    blocks.push(section(`<${alert.link.replace(/[<>|]/g, encodeURIComponent)}|Open in ${alert.source}>`));
  }
  if (buttons.length > 0) blocks.push(actions(`alert.${alert.fingerprint}`.slice(0, 255), buttons));
  const notes: string[] = [];
  if (!resolved && route.suggest.length > 0 && host === undefined) {
    notes.push(
      alert.host === undefined
        ? `Suggested: ${route.suggest.map(esc).join(', ')}. No buttons: the alert names no host.`
        : `Suggested: ${route.suggest.map(esc).join(', ')}. No buttons: host ${userText(alert.host, 200)} is not in ward's inventory.`,
    );
  }
  if (state.note !== undefined) notes.push(esc(state.note));
  const requested = (state.requested ?? []).map(
    (r) => `→ ${esc(r.command)} requested by <@${r.user}> (in the thread)`,
  );
  const mention = route.mention !== undefined && !resolved ? `${mentionMarkup(route.mention)} ` : '';
  blocks.push(
    context(
      `${mention}rule ${esc(route.rule)} · first seen ${state.firstSeen} · fingerprint ${userText(alert.fingerprint, shownFingerprintLength)}`,
      ...notes,
    ),
  );
  if (requested.length > 0) blocks.push(context(requested.join('\n')));
  return { text: `${mention}${icon} ${userText(title, 300)}`, blocks };
}

/** The text-only form of an alert, for a fallback channel when Slack refused the blocks themselves. */
export function renderAlertPlain(alert: Alert, state: AlertMessageState, note: string): ChatMessage {
  const status = state.status === 'resolved' ? 'Resolved: ' : '';
  return {
    text: clip(
      `${severityEmoji[alert.severity]} ${status}${userText(alert.title, 300)} (${alert.source}, ${alert.severity}, host ${alert.host === undefined ? 'none' : userText(alert.host, 200)}, seen ${state.count}×, fingerprint ${userText(alert.fingerprint, shownFingerprintLength)})\n${alert.summary ? userText(alert.summary, 3000) : ''}\n_${esc(note)}_`,
      3900,
    ),
  };
}

/** One alert inside a storm roll-up. */
export interface RollupEntry {
  fingerprint: string;
  title: string;
  count: number;
  status: 'firing' | 'resolved';
}

/** What a storm roll-up message shows. */
export interface RollupState {
  /** Firing deliveries rolled into this message (repeats included). */
  count: number;
  resolved: number;
  /** Every distinct alert in this message, in arrival order (at most `rollupEntryLimit`). */
  entries: RollupEntry[];
  /** 1 for the first message of a storm minute; a full message continues in the next part. */
  part: number;
  note?: string | undefined;
}

/**
 * Distinct alerts per roll-up message. Every alert of a storm stays visible (nothing is summarised away as
 * "and N more"): when a message is full, the storm continues in a new one. 40 lines stay well under Slack's
 * 3000 characters per section, split over a few sections.
 */
export const rollupEntryLimit = 40;

/** The summary a storm is rolled into, updated in place as more alerts arrive. */
export function renderRollup(rule: string, minuteStart: string, state: RollupState): ChatMessage {
  const partText = state.part > 1 ? ` (part ${state.part})` : '';
  const text = `:cyclone: Alert storm on rule ${esc(rule)}${partText}: ${state.count} more alerts (${state.entries.length} distinct) since ${Number.isNaN(Date.parse(minuteStart)) ? esc(minuteStart) : clockTime(Date.parse(minuteStart))}`;
  const lines = state.entries.map(
    (e) =>
      `• ${e.status === 'resolved' ? ':white_check_mark: ' : ''}${userText(e.title, 120)}${e.count > 1 ? ` ×${e.count}` : ''} · ${userText(e.fingerprint, shownFingerprintLength)}`,
  );
  const sections: string[] = [];
  for (let i = 0; i < lines.length; i += 10) sections.push(lines.slice(i, i + 10).join('\n'));
  return {
    text,
    blocks: [
      section(text),
      ...sections.map((s) => section(s)),
      context(
        `Rolled up because the rule saw more new alerts than its storm limit in one minute. ${state.resolved} resolved since.${state.note ? ` ${esc(state.note)}` : ''}`,
      ),
    ],
  };
}

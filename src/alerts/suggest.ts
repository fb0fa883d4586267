import { indicatorText, parseIndicators } from '../actions/hunt-indicators.js';
import { HOST_NAME_PATTERN } from '../config/inventory.js';
import { UserInputError } from '../errors.js';
import type { Store } from '../ports/store.js';
import { messageKey } from './relay.js';
import type { SuggestButtonValue } from './render.js';

/** Characters that could end or escape the quoted reason (`"`, `\`, and the typographic quotes folded to `"`). */
const unsafeInReason = /["\\\u201c\u201d\u201e\u0000-\u001f\u007f-\u009f]/g;

/** `alert <title> (<fingerprint>)`, safe inside `--reason "…"` whatever the alert said, and under 500 characters. */
export function alertReason(title: string, fingerprint: string): string {
  const clean = (s: string, max: number) => {
    const t = s.replace(unsafeInReason, ' ').replace(/\s+/g, ' ').trim();
    return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
  };
  return `alert ${clean(title, 300)} (${clean(fingerprint, 100)})`;
}

/** The alert a suggested-action button stands for: what the click handler needs to open the request. */
export interface ClickedSuggestion {
  command: string;
  host: string;
  fingerprint: string;
  title: string;
  /** `hunt` only: the indicators the button carried, re-validated. */
  indicators?: string[] | undefined;
  /** The alert's message record (absent on buttons posted before references existed). */
  ref?: string | undefined;
}

const REF_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Reads a suggested-action button: `{command, host, ref}`, the alert's fingerprint and title looked up by `ref` in
 * its stored message record (which must still offer that command for that host). Buttons posted before references
 * existed carried `{command, host, fingerprint, title}` inline; those still work. A malformed or forged value opens
 * nothing.
 */
export async function resolveSuggestButton(
  store: Pick<Store, 'get'>,
  actionId: string,
  value: string,
): Promise<ClickedSuggestion> {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    v = undefined;
  }
  const b = v as Partial<SuggestButtonValue & { fingerprint: unknown; title: unknown }> | undefined;
  const malformed = () => new UserInputError('That alert button is malformed, so nothing was requested.');
  if (
    typeof b !== 'object' ||
    b === null ||
    typeof b.command !== 'string' ||
    actionId !== `alert.suggest.${b.command}` ||
    typeof b.host !== 'string' ||
    !HOST_NAME_PATTERN.test(b.host)
  ) {
    throw malformed();
  }
  if (b.ref === undefined && typeof b.fingerprint === 'string' && typeof b.title === 'string') {
    if (b.fingerprint.length === 0) throw malformed();
    return { command: b.command, host: b.host, fingerprint: b.fingerprint, title: b.title };
  }
  if (typeof b.ref !== 'string' || !REF_PATTERN.test(b.ref)) throw malformed();
  const raw = await store.get(messageKey(b.ref));
  const record = (raw === null ? null : JSON.parse(raw)) as {
    kind?: string;
    alert?: { fingerprint?: unknown; title?: unknown };
    route?: { suggest?: unknown };
    state?: { inventoryHost?: unknown };
  } | null;
  if (record === null) {
    throw new UserInputError(
      `ward no longer keeps this alert (alerts are kept for their rule's dedupe window plus a day), so nothing was requested. Type \`/ward ${b.command} ${b.host} --reason "…"\` instead.`,
    );
  }
  const { alert, route, state } = record;
  if (
    record.kind !== 'message' ||
    typeof alert?.fingerprint !== 'string' ||
    typeof alert.title !== 'string' ||
    !Array.isArray(route?.suggest) ||
    !route.suggest.includes(b.command) ||
    state?.inventoryHost !== b.host
  ) {
    throw malformed();
  }
  const resolved = {
    command: b.command,
    host: b.host,
    fingerprint: alert.fingerprint,
    title: alert.title,
    ref: b.ref,
  };
  if (b.command === 'hunt') {
    // Re-validated here: a button value comes back from Slack and is not trusted more than typed text.
    if (!Array.isArray(b.indicators) || b.indicators.length === 0) {
      throw new UserInputError('That hunt button carries no indicator, so nothing was requested.');
    }
    const indicators = parseIndicators(b.indicators.map(String)).map(indicatorText);
    return { ...resolved, indicators };
  }
  return resolved;
}

/** The `/ward` text a suggested action stands for: the clicker asks exactly this, with their own roles. */
export function suggestionText(button: ClickedSuggestion): string {
  const reason = alertReason(button.title, button.fingerprint);
  return button.command === 'hunt'
    ? `hunt all ${(button.indicators ?? []).join(' ')} --reason "${reason}"`
    : `${button.command} ${button.host} --reason "${reason}"`;
}

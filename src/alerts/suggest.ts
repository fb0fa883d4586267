import { HOST_NAME_PATTERN } from '../config/inventory.js';
import { UserInputError } from '../errors.js';
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

/** The value of a suggested-action button, checked: a malformed or forged one opens nothing. */
export function parseSuggestButton(actionId: string, value: string): SuggestButtonValue {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    v = undefined;
  }
  const b = v as Partial<SuggestButtonValue> | undefined;
  if (
    typeof b !== 'object' ||
    b === null ||
    typeof b.command !== 'string' ||
    actionId !== `alert.suggest.${b.command}` ||
    typeof b.host !== 'string' ||
    !HOST_NAME_PATTERN.test(b.host) ||
    typeof b.fingerprint !== 'string' ||
    b.fingerprint.length === 0 ||
    typeof b.title !== 'string'
  ) {
    throw new UserInputError('That alert button is malformed, so nothing was requested.');
  }
  return { command: b.command, host: b.host, fingerprint: b.fingerprint, title: b.title };
}

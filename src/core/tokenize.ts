import { UserInputError } from '../errors.js';

/** Longest command text ward reads; longer text is refused rather than cut, so nothing is run half-read. */
export const MAX_COMMAND_TEXT = 1500;

// Slack (and macOS autocorrect) turn typed quotes into typographic ones; people mean plain quotes.
const QUOTE_FOLD: Record<string, string> = {
  '\u201c': '"',
  '\u201d': '"',
  '\u201e': '"',
  '\u2018': "'",
  '\u2019': "'",
};

/**
 * Splits command text like a POSIX shell would split words, but without any expansion: double and single quotes
 * group words, a backslash escapes the next character inside double quotes and outside quotes. Nothing here is
 * ever given to a shell; the tokens are validated against each command's schema afterwards.
 */
export function tokenize(input: string): string[] {
  if (input.length > MAX_COMMAND_TEXT) {
    throw new UserInputError(
      `That command is ${input.length} characters long; ward reads at most ${MAX_COMMAND_TEXT}. Nothing was run.`,
    );
  }
  const control = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.exec(input);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    throw new UserInputError(
      `The command contains a control character (U+${code}) at position ${control.index + 1}; remove it and try again. Nothing was run.`,
    );
  }
  const text = input.replace(/[\u201c\u201d\u201e\u2018\u2019]/g, (c) => QUOTE_FOLD[c] ?? c);
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let quote: '"' | "'" | null = null;
  let quoteStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else current += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < text.length && (text[i + 1] === '"' || text[i + 1] === '\\'))
        current += text[++i];
      else current += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      quoteStart = i;
      inToken = true;
    } else if (c === '\\' && i + 1 < text.length) {
      current += text[++i];
      inToken = true;
    } else if (/\s/.test(c)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
    } else {
      current += c;
      inToken = true;
    }
  }
  if (quote !== null) {
    throw new UserInputError(
      `Unmatched ${quote === '"' ? 'double' : 'single'} quote at position ${quoteStart + 1}: close it and try again. Nothing was run.`,
    );
  }
  if (inToken) tokens.push(current);
  return tokens;
}

export interface ParsedWords {
  positionals: string[];
  /** Flags by their kebab-case name: a string value, or true for a boolean flag. */
  flags: Map<string, string | true>;
}

/**
 * Separates positionals from `--flag value`, `--flag=value` and boolean `--flag`. `booleanFlags` says which flags take
 * no value, `valueFlags` (when given) which take one; `--` ends flag parsing.
 */
export function splitFlags(
  tokens: readonly string[],
  booleanFlags: ReadonlySet<string>,
  valueFlags?: ReadonlySet<string>,
): ParsedWords {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  let onlyPositionals = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (onlyPositionals || !t.startsWith('--') || t === '--') {
      if (t === '--' && !onlyPositionals) onlyPositionals = true;
      else positionals.push(t);
      continue;
    }
    const eq = t.indexOf('=');
    const name = (eq === -1 ? t.slice(2) : t.slice(2, eq)).toLowerCase();
    if (!/^[a-z][a-z0-9-]*$/.test(name))
      throw new UserInputError(`\`${truncate(t)}\` is not a valid option name.`);
    if (flags.has(name)) throw new UserInputError(`The option --${name} is given twice.`);
    // An option the command does not know takes no value here, so that the caller can name it as unknown
    // instead of complaining that it lacks a value.
    if (valueFlags !== undefined && !valueFlags.has(name) && !booleanFlags.has(name)) {
      flags.set(name, eq === -1 ? true : t.slice(eq + 1));
      continue;
    }
    if (booleanFlags.has(name)) {
      if (eq !== -1) {
        const v = t.slice(eq + 1).toLowerCase();
        if (v !== 'true' && v !== 'false')
          throw new UserInputError(`--${name} takes no value (or =true/=false).`);
        if (v === 'true') flags.set(name, true);
        continue;
      }
      flags.set(name, true);
    } else if (eq !== -1) {
      flags.set(name, t.slice(eq + 1));
    } else {
      const value = tokens[i + 1];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) {
        throw new UserInputError(`--${name} needs a value, e.g. --${name} "…".`);
      }
      flags.set(name, value);
      i++;
    }
  }
  return { positionals, flags };
}

export function truncate(s: string, max = 60): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

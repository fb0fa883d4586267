import { SafeValue } from '../adapters/ssh/shell-quote.js';
import { UserInputError } from '../errors.js';

/**
 * What a hunt looks for. Each kind is parsed from `kind:value` and validated against a strict pattern before any
 * host is contacted; the value then reaches the host only through an environment variable of a fixed script
 * (quoted by shellQuote), never as code.
 */
export type Indicator =
  | { kind: 'sha256'; value: string }
  | { kind: 'file'; value: string }
  | { kind: 'process'; value: string }
  | { kind: 'ip'; value: string }
  | { kind: 'port'; value: string }
  | { kind: 'user'; value: string }
  | {
      kind: 'package';
      value: string;
      name: string;
      op?: VersionOp | undefined;
      version?: string | undefined;
    };

export const INDICATOR_KINDS = ['sha256', 'file', 'process', 'ip', 'port', 'user', 'package'] as const;
export type IndicatorKind = (typeof INDICATOR_KINDS)[number];

export const VERSION_OPS = ['<=', '>=', '<', '>', '='] as const;
export type VersionOp = (typeof VERSION_OPS)[number];

/** Most indicators one hunt may carry (each is one section of the host's script). */
export const MAX_INDICATORS = 20;

/** One line per kind, for the usage and docs/hunts.md: what it matches and how it is written. */
export const INDICATOR_HELP: Record<IndicatorKind, string> = {
  sha256: 'sha256:<64 hex> files with that hash under the hunt paths',
  file: 'file:<absolute path> exists? sha256, size, owner, mtime',
  process: 'process:<name> running processes by name or executable basename',
  ip: 'ip:<address or CIDR> established connections and listening sockets involving it',
  port: 'port:<1-65535> listening sockets on that port',
  user: 'user:<name> account present, logged in now, recent logins',
  package: 'package:<name>[<op><version>] installed version (ops < <= = >= >, distro ordering)',
};

function show(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

// Deliberately narrower than what the systems allow: anything outside these sets is refused, not escaped.
const SHA256 = /^[0-9a-fA-F]{64}$/;
const FILE_PATH = /^\/[A-Za-z0-9._/@+,:%~-]{0,4095}$/;
const PROCESS_NAME = /^[A-Za-z0-9._+:@-]{1,64}$/;
const PORT = /^[1-9]\d{0,4}$/;
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+._-]{0,127}$/;
// Debian versions: [epoch:]upstream[-revision] with . + ~ - :; rpm: version-release with . _ + ~ ^.
const PACKAGE_VERSION = /^[A-Za-z0-9][A-Za-z0-9.+~:_^-]{0,127}$/;

/** Parses one `kind:value` word; throws UserInputError naming exactly what is wrong with it. */
export function parseIndicator(word: string): Indicator {
  const colon = word.indexOf(':');
  const kind = colon === -1 ? '' : word.slice(0, colon);
  const value = colon === -1 ? '' : word.slice(colon + 1);
  if (!(INDICATOR_KINDS as readonly string[]).includes(kind)) {
    throw new UserInputError(
      `${show(word)} is not an indicator: write kind:value with kind one of ${INDICATOR_KINDS.join(', ')}.`,
    );
  }
  switch (kind as IndicatorKind) {
    case 'sha256':
      if (!SHA256.test(value))
        throw new UserInputError(`${show(word)}: a sha256 is exactly 64 hexadecimal characters.`);
      return { kind: 'sha256', value: value.toLowerCase() };
    case 'file':
      if (!FILE_PATH.test(value)) {
        throw new UserInputError(
          `${show(word)}: the path must be absolute and use only letters, digits and . _ / @ + , : % ~ - (no spaces or shell characters).`,
        );
      }
      return { kind: 'file', value: SafeValue.absPath(value) };
    case 'process':
      if (!PROCESS_NAME.test(value)) {
        throw new UserInputError(
          `${show(word)}: a process name is 1-64 letters, digits or . _ + : @ - (no paths, spaces or shell characters).`,
        );
      }
      return { kind: 'process', value };
    case 'ip':
      return { kind: 'ip', value: SafeValue.ipOrCidr(value) };
    case 'port':
      if (!PORT.test(value) || Number(value) > 65535)
        throw new UserInputError(`${show(word)}: a port is a whole number from 1 to 65535.`);
      return { kind: 'port', value };
    case 'user':
      return { kind: 'user', value: SafeValue.unixUser(value) };
    case 'package':
      return parsePackage(word, value);
  }
}

function parsePackage(word: string, value: string): Indicator {
  const at = value.search(/[<>=]/);
  const name = at === -1 ? value : value.slice(0, at);
  if (!PACKAGE_NAME.test(name)) {
    throw new UserInputError(
      `${show(word)}: a package name is lowercase letters, digits and + . _ - (starting with a letter or digit), optionally followed by an operator (< <= = >= >) and a version.`,
    );
  }
  if (at === -1) return { kind: 'package', value, name };
  const rest = value.slice(at);
  const op = [...VERSION_OPS].find((o) => rest.startsWith(o));
  const version = op === undefined ? '' : rest.slice(op.length);
  if (op === undefined || !PACKAGE_VERSION.test(version)) {
    throw new UserInputError(
      `${show(word)}: after the package name comes one operator (< <= = >= >) and a version of letters, digits and . + ~ : _ ^ - (e.g. package:openssh-server<1:9.2p1-2+deb12u3).`,
    );
  }
  return { kind: 'package', value, name, op, version };
}

/** Parses a hunt's indicator words; refuses none, too many, or the same indicator twice. */
export function parseIndicators(words: readonly string[]): Indicator[] {
  if (words.length === 0) throw new UserInputError('Give at least one indicator, e.g. sha256:<64 hex>.');
  if (words.length > MAX_INDICATORS) {
    throw new UserInputError(
      `A hunt takes at most ${MAX_INDICATORS} indicators; this one has ${words.length}.`,
    );
  }
  const parsed = words.map(parseIndicator);
  const seen = new Set<string>();
  for (const i of parsed) {
    const key = indicatorText(i);
    if (seen.has(key)) throw new UserInputError(`${show(key)} is given twice.`);
    seen.add(key);
  }
  return parsed;
}

/** The canonical `kind:value` form (sha256 lowercased), as plans, summaries and results show it. */
export function indicatorText(i: Indicator): string {
  return `${i.kind}:${i.value}`;
}

import { isIP } from 'node:net';
import { UserInputError } from '../../errors.js';

/**
 * Quotes one argument for a POSIX shell: wraps it in single quotes, inside which nothing is special, and writes
 * each embedded `'` as `'\''`. sshd always hands the command line to the login shell, so every argv element
 * crosses the wire through this. NUL cannot be carried in a shell word at all, so it is refused, not dropped.
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) {
    throw new UserInputError(
      'A command argument contains a NUL byte, which cannot be passed to a remote command.',
    );
  }
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

const MAX_PID = 4_194_304; // Linux PID_MAX_LIMIT

function show(value: string): string {
  const printable = value.length > 60 ? `${value.slice(0, 60)}…` : value;
  return JSON.stringify(printable);
}

/**
 * Validators for values that remediation templates put into remote commands. Each returns the value (normalised
 * where stated) or throws a UserInputError that names what was wrong. They are deliberately strict: a value that
 * passes is also quoted by `shellQuote`, so this is the first of two locks, not the only one.
 */
export const SafeValue = {
  /** An IPv4 or IPv6 address with an optional prefix length (`203.0.113.7`, `2001:db8::/32`). No zones, no spaces. */
  ipOrCidr(value: string): string {
    const [ip, prefix, ...rest] = value.split('/');
    const family = ip === undefined ? 0 : isIP(ip);
    if (rest.length > 0 || family === 0 || ip === undefined || ip.includes('%')) {
      throw new UserInputError(
        `${show(value)} is not an IP address or CIDR: use an IPv4 or IPv6 address with an optional /prefix, e.g. 203.0.113.7 or 2001:db8::/32.`,
      );
    }
    if (prefix !== undefined) {
      const max = family === 4 ? 32 : 128;
      if (!/^(0|[1-9]\d{0,2})$/.test(prefix) || Number(prefix) > max) {
        throw new UserInputError(
          `${show(value)} has an invalid prefix length: it must be a whole number from 0 to ${max} for an IPv${family} address.`,
        );
      }
    }
    return value;
  },

  /** A process id: a whole number from 1 to 4194304, digits only. Returns it as a string for argv. */
  pid(value: string | number): string {
    const text = String(value);
    if (!/^[1-9]\d{0,6}$/.test(text) || Number(text) > MAX_PID) {
      throw new UserInputError(`${show(text)} is not a process id: use a whole number from 1 to ${MAX_PID}.`);
    }
    return text;
  },

  /** A Unix user name as useradd accepts by default: lowercase letter or `_` first, then `[a-z0-9_-]`, ≤ 32 chars. */
  unixUser(value: string): string {
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(value)) {
      throw new UserInputError(
        `${show(value)} is not a valid Unix user name: start with a lowercase letter or _, then up to 31 lowercase letters, digits, _ or -.`,
      );
    }
    return value;
  },

  /** An absolute path without NUL, newlines or `..` segments (so it cannot climb out of what was approved). */
  absPath(value: string): string {
    if (!value.startsWith('/')) {
      throw new UserInputError(`${show(value)} is not an absolute path: it must start with /.`);
    }
    if (value.includes('\0')) throw new UserInputError('The path contains a NUL byte.');
    if (/[\r\n]/.test(value))
      throw new UserInputError(`${show(value)} contains a line break, which a path may not.`);
    if (value.split('/').includes('..')) {
      throw new UserInputError(`${show(value)} contains a ".." segment: give the path without "..".`);
    }
    if (value.length > 4096) throw new UserInputError('The path is longer than 4096 characters.');
    return value;
  },
} as const;

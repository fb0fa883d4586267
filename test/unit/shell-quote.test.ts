import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SafeValue, shellQuote } from '../../src/adapters/ssh/shell-quote.js';
import { UserInputError } from '../../src/errors.js';

const HOSTILE = [
  '; rm -rf /',
  '$(id)',
  '`id`',
  "a'b",
  'a"b',
  "'; echo pwned; '",
  'line1\nline2',
  '\\',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${…} is the hostile input under test
  '$HOME ${PATH} ~ * ? [a] | & > < !',
  '',
  ' leading and trailing ',
  'FOO=bar',
  'x'.repeat(3000),
];

/** What /bin/sh receives as argv after parsing the quoted line (printf prints each argument on its own line). */
function roundTrip(values: string[]): string[] {
  const line = `printf '%s\\0' ${values.map(shellQuote).join(' ')}`;
  const out = execFileSync('/bin/sh', ['-c', line]);
  return out.toString().split('\0').slice(0, -1);
}

describe('shellQuote', () => {
  it('makes the shell see each hostile argument exactly as given, with nothing executed', () => {
    expect(roundTrip(HOSTILE)).toEqual(HOSTILE);
  });

  it('wraps in single quotes and escapes embedded single quotes', () => {
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
    expect(shellQuote('')).toBe(`''`);
    expect(shellQuote('-v')).toBe(`'-v'`);
  });

  it('refuses a NUL byte instead of silently truncating the argument', () => {
    expect(() => shellQuote('a\0b')).toThrow(UserInputError);
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });
});

describe('SafeValue.ipOrCidr', () => {
  it.each(['203.0.113.7', '203.0.113.0/24', '0.0.0.0/0', '2001:db8::1', '2001:db8::/32', '::/0'])(
    'accepts %s',
    (v) => {
      expect(SafeValue.ipOrCidr(v)).toBe(v);
    },
  );
  it.each([
    '203.0.113.7; rm -rf /',
    '$(id)',
    '`id`',
    '203.0.113.7\n',
    '203.0.113.256',
    '203.0.113.7/33',
    '2001:db8::/129',
    '203.0.113.7/024',
    '203.0.113.7/',
    '1.2.3.4/8/8',
    'fe80::1%eth0',
    'example.com',
    '',
    '1'.repeat(3000),
  ])('rejects %j with a message naming the problem', (v) => {
    expect(() => SafeValue.ipOrCidr(v)).toThrow(UserInputError);
    expect(() => SafeValue.ipOrCidr(v)).toThrow(/IP address|prefix/);
  });
});

describe('SafeValue.pid', () => {
  it.each([
    ['1', '1'],
    [4194304, '4194304'],
    ['31337', '31337'],
  ])('accepts %j', (v, want) => {
    expect(SafeValue.pid(v)).toBe(want);
  });
  it.each(['0', '-1', '4194305', '012', '1.5', '1e3', ' 42', '42; id', '$(id)', '', 'x'.repeat(3000)])(
    'rejects %j',
    (v) => {
      expect(() => SafeValue.pid(v)).toThrow(/not a process id: use a whole number from 1 to 4194304/);
    },
  );
});

describe('SafeValue.unixUser', () => {
  it.each(['root', 'www-data', '_apt', 'a'.repeat(32)])('accepts %s', (v) => {
    expect(SafeValue.unixUser(v)).toBe(v);
  });
  it.each(['Root', '1user', 'a'.repeat(33), 'bob;id', 'bob$(id)', "bob'", 'bob\n', 'bob\0', '-bob', ''])(
    'rejects %j',
    (v) => {
      expect(() => SafeValue.unixUser(v)).toThrow(/not a valid Unix user name/);
    },
  );
});

describe('SafeValue.absPath', () => {
  it.each(['/tmp/x', '/var/log/auth.log', '/', '/a b/c; not a command', '/a/.../b'])('accepts %j', (v) => {
    expect(SafeValue.absPath(v)).toBe(v);
  });
  it.each([
    ['tmp/x', /not an absolute path/],
    ['', /not an absolute path/],
    ['/tmp/../etc/shadow', /"\.\." segment/],
    ['/..', /"\.\." segment/],
    ['/tmp/x\nrm -rf /', /line break/],
    ['/tmp/x\r', /line break/],
    ['/tmp/\0x', /NUL/],
    [`/${'x'.repeat(5000)}`, /longer than 4096/],
  ])('rejects %j', (v, message) => {
    expect(() => SafeValue.absPath(v)).toThrow(UserInputError);
    expect(() => SafeValue.absPath(v)).toThrow(message);
  });
});

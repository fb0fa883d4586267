import { describe, expect, it } from 'vitest';
import { splitFlags, tokenize } from '../../src/core/tokenize.js';
import { UserInputError } from '../../src/errors.js';

describe('tokenize', () => {
  it('splits words and keeps quoted text together', () => {
    expect(tokenize('lockdown web1 --reason "C2 beacon seen"')).toEqual([
      'lockdown',
      'web1',
      '--reason',
      'C2 beacon seen',
    ]);
    expect(tokenize("block-ip web1 1.2.3.4 --reason='scanner from abroad'")).toEqual([
      'block-ip',
      'web1',
      '1.2.3.4',
      '--reason=scanner from abroad',
    ]);
  });

  it('treats the typographic quotes Slack inserts as plain quotes', () => {
    expect(tokenize('lockdown web1 --reason \u201cINC-42 beacon\u201d')).toEqual([
      'lockdown',
      'web1',
      '--reason',
      'INC-42 beacon',
    ]);
  });

  it('keeps shell metacharacters as literal text (nothing is expanded)', () => {
    expect(tokenize('forensics "web1; rm -rf /" $(id) `id`')).toEqual([
      'forensics',
      'web1; rm -rf /',
      '$(id)',
      '`id`',
    ]);
  });

  it('handles escapes inside double quotes and outside quotes', () => {
    expect(tokenize('x "a \\"b\\" c" d\\ e')).toEqual(['x', 'a "b" c', 'd e']);
  });

  it('refuses an unmatched quote with its position', () => {
    expect(() => tokenize('lockdown web1 --reason "oops')).toThrow(/Unmatched double quote at position 24/);
  });

  it('refuses control characters and says which', () => {
    expect(() => tokenize('help\u0007')).toThrow(/control character \(U\+0007\) at position 5/);
    expect(() => tokenize('help\u0000x')).toThrow(UserInputError);
  });

  it('refuses text longer than it reads instead of cutting it', () => {
    expect(() => tokenize(`help ${'a'.repeat(3000)}`)).toThrow(
      /3005 characters long; ward reads at most 1500/,
    );
  });
});

describe('splitFlags', () => {
  it('reads --flag value, --flag=value and boolean flags', () => {
    const r = splitFlags(['web1', '--reason', 'x y', '--dry-run', '--since=2h'], new Set(['dry-run']));
    expect(r.positionals).toEqual(['web1']);
    expect([...r.flags]).toEqual([
      ['reason', 'x y'],
      ['dry-run', true],
      ['since', '2h'],
    ]);
  });

  it('refuses a flag without its value and a repeated flag', () => {
    expect(() => splitFlags(['--reason'], new Set())).toThrow(/--reason needs a value/);
    expect(() => splitFlags(['--reason', 'a', '--reason', 'b'], new Set())).toThrow(/given twice/);
  });

  it('treats everything after -- as positional', () => {
    expect(splitFlags(['--', '--not-a-flag'], new Set()).positionals).toEqual(['--not-a-flag']);
  });
});

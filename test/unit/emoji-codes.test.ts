import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Emoji codes ward writes (`:white_circle:`) must show as emoji, not as the code: each one ward uses is a real Slack
 * shortcode the sandbox page renders too (its table in src/sandbox/public/mrkdwn.js lists Slack's names), and no
 * plain_text object ward renders carries a code without `emoji: true` (Slack shows those literally).
 */
const root = new URL('../../', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) return rel.includes('public') ? [] : sourceFiles(rel);
    return rel.endsWith('.ts') ? [rel] : [];
  });
}

/** `:name:` where a message would show it: after a quote, a backtick, a space or `(`, and before one of those. */
const CODE = /(?<=^|[\s`'"(]):([a-z][a-z0-9_+-]*):(?=$|[\s`'".,)])/gm;

const sandboxEmoji = new Set(
  [
    ...readFileSync(join(root, 'src/sandbox/public/mrkdwn.js'), 'utf8').matchAll(/^ {2}([a-z0-9_+-]+): '/gm),
  ].map((m) => m[1]!),
);

describe('emoji codes', () => {
  it('every code in ward’s messages is one the sandbox renders (a Slack shortcode), none left as text', () => {
    const used = new Map<string, string>();
    for (const file of [...sourceFiles('src'), ...sourceFiles('commands')]) {
      const code = readFileSync(join(root, file), 'utf8')
        .split('\n')
        .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line))
        .join('\n');
      for (const m of code.matchAll(CODE)) used.set(m[1]!, file);
    }
    // The scan finds the codes the issue named, so it is looking at the right text.
    expect(used.has('white_circle')).toBe(true);
    expect(used.has('white_check_mark')).toBe(true);
    const unknown = [...used].filter(([name]) => !sandboxEmoji.has(name)).map(([n, f]) => `:${n}: in ${f}`);
    expect(unknown).toEqual([]);
  });

  it('no rendered plain_text carries an emoji code without emoji: true', () => {
    const offenders: string[] = [];
    const walk = (node: unknown, where: string): void => {
      if (Array.isArray(node)) {
        for (const [i, n] of node.entries()) walk(n, `${where}[${i}]`);
      } else if (node !== null && typeof node === 'object') {
        const o = node as Record<string, unknown>;
        if (
          o['type'] === 'plain_text' &&
          typeof o['text'] === 'string' &&
          CODE.test(o['text']) &&
          o['emoji'] !== true
        )
          offenders.push(`${where}: ${o['text']}`);
        CODE.lastIndex = 0;
        for (const [k, v] of Object.entries(o)) walk(v, `${where}.${k}`);
      }
    };
    const dir = join(root, 'test/unit/golden');
    const goldens = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(goldens.length).toBeGreaterThan(10);
    for (const f of goldens) walk(JSON.parse(readFileSync(join(dir, f), 'utf8')), f);
    expect(offenders).toEqual([]);
  });
});

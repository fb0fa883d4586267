/**
 * Every relative link in the README and docs/ points at a file that exists, and every `#anchor` at a heading of
 * its target, with the anchors GitHub generates; no link points at an absolute local path (it would work on one
 * machine only).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = [
  'README.md',
  'SECURITY.md',
  'CHANGELOG.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The markdown outside fenced code blocks and inline code spans (links there are text, not links). */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/(`+)[^`\n]*?\1/g, '');
}

/** GitHub's heading anchors (github-slugger): lower case, punctuation dropped, spaces to '-', repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const text = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, heading] of text.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const plain = heading!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading keeps its text
      .replace(/<[^>]+>/g, '');
    const base = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

interface Link {
  file: string;
  target: string;
}

function links(file: string): Link[] {
  const text = prose(readFileSync(join(ROOT, file), 'utf8'));
  const out: Link[] = [];
  // [text](target "title") and ![alt](target); reference definitions `[x]: target`.
  for (const m of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
    out.push({ file, target: m[1]! });
  for (const m of text.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)) out.push({ file, target: m[1]! });
  return out;
}

/** Why a link is broken, or undefined when it is fine. */
function problem({ file, target }: Link): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
    if (/^file:/i.test(target)) return 'a file: URL works on one machine only';
    return undefined; // https:, mailto: … are not checked here
  }
  if (target.startsWith('/')) return 'an absolute path works on one machine only; use a relative link';
  if (target.startsWith('~')) return 'a home-directory path works on one machine only';
  const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
  const path = decodeURIComponent(pathPart);
  const resolved = path === '' ? join(ROOT, file) : join(ROOT, dirname(file), path);
  if (relative(ROOT, resolved).startsWith('..')) return 'points outside the repository';
  if (!existsSync(resolved)) return `${relative(ROOT, resolved)} does not exist`;
  if (anchor === undefined) return undefined;
  if (statSync(resolved).isDirectory() || !resolved.endsWith('.md'))
    return `#${anchor} on a file that has no headings`;
  if (!headingAnchors(readFileSync(resolved, 'utf8')).has(anchor))
    return `${relative(ROOT, resolved)} has no heading #${anchor}`;
  return undefined;
}

describe('documentation links', () => {
  it('every relative link in README.md and docs/ reaches a file, and every #anchor a heading in it', () => {
    const all = DOCS.flatMap(links);
    expect(all.length).toBeGreaterThan(50);
    const broken = all.flatMap((l) => {
      const why = problem(l);
      return why === undefined ? [] : [`${l.file}: (${l.target}) ${why}`];
    });
    expect(broken).toEqual([]);
  });

  it('the checker itself catches a missing file, a missing anchor and an absolute local path', () => {
    expect(problem({ file: 'README.md', target: 'docs/deploy.md' })).toBeUndefined();
    expect(problem({ file: 'README.md', target: 'docs/deploy.md#10-verify' })).toBeUndefined();
    expect(problem({ file: 'docs/deploy.md', target: '../README.md#quick-start' })).toBeUndefined();
    expect(problem({ file: 'README.md', target: 'docs/nowhere.md' })).toMatch(/does not exist/);
    expect(problem({ file: 'README.md', target: 'docs/deploy.md#11-celebrate' })).toMatch(/no heading/);
    expect(problem({ file: 'README.md', target: '#no-such-section' })).toMatch(/no heading/);
    expect(problem({ file: 'README.md', target: '/work/main/docs/deploy.md' })).toMatch(/absolute/);
    expect(problem({ file: 'README.md', target: 'file:///etc/ward/policy.yaml' })).toMatch(/one machine/);
    expect(problem({ file: 'docs/deploy.md', target: '../../outside.md' })).toMatch(/outside/);
  });

  it("computes GitHub's anchors: punctuation, code, repeats", () => {
    const anchors = headingAnchors(
      [
        '# Try it in a browser: `npm run sandbox`',
        '## 10. Verify',
        '### Tag-deny policy sample (freeze instances tagged `SecurityStatus=IR`)',
        '## Notes',
        '## Notes',
        '```sh',
        '# not a heading',
        '```',
      ].join('\n'),
    );
    expect([...anchors]).toEqual([
      'try-it-in-a-browser-npm-run-sandbox',
      '10-verify',
      'tag-deny-policy-sample-freeze-instances-tagged-securitystatusir',
      'notes',
      'notes-1',
    ]);
  });
});

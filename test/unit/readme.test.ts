import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commands } from '../../commands/index.js';
import { ENV_VARS } from '../../src/config/env.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const readme = read('README.md');
/** The text of a `## title` section of a markdown text, up to the next `## `. */
const section = (text: string, title: string) => {
  const start = text.indexOf(`\n## ${title}\n`);
  expect(start, `section "## ${title}"`).toBeGreaterThan(-1);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end === -1 ? undefined : end);
};

describe('README and docs stay true to the code', () => {
  it('docs/configuration.md has a row for every variable ward reads, and none it does not', () => {
    const reference = read('docs/configuration.md');
    const rows = reference
      .split('\n')
      .map((l) => /^\| `([A-Z][A-Z0-9_]*)` \|/.exec(l)?.[1])
      .filter((name): name is string => name !== undefined);
    expect(ENV_VARS.filter((name) => !rows.includes(name))).toEqual([]);
    expect(rows.filter((name) => !ENV_VARS.includes(name))).toEqual([]);
  });

  it("the README's command table has a row for every command, and none for a command that does not exist", () => {
    const table = section(readme, 'Commands');
    const names = commands.map((c) => c.name);
    expect(names.filter((name) => !table.includes(`| \`/ward ${name}`))).toEqual([]);
    const rowNames = [...table.matchAll(/^\| `\/ward ([a-z-]+)/gm)].map((m) => m[1]);
    expect(rowNames.filter((name) => !names.includes(name!))).toEqual([]);
  });

  it('gives the two set-up commands on the first screen: run ward, run the tests', () => {
    const quickStart = section(readme, 'Quick start');
    expect(quickStart).toContain('npm ci && npm run sandbox');
    expect(quickStart).toContain('bash .ci/run');
    expect(read('.ci/run')).toMatch(/\nnpm test( |\n)/);
    // Everything .ci/run installs is named where the README describes it.
    const packages = /^PACKAGES="([^"]+)"/m.exec(read('.ci/run'))?.[1]?.split(' ') ?? [];
    expect(packages.length).toBeGreaterThan(0);
    const dev = read('docs/development.md');
    expect(packages.filter((p) => !dev.includes(`\`${p}\``))).toEqual([]);
  });

  it('the first screen says what ward is, shows it, and leads to the deploy checklist', () => {
    const firstScreen = readme.slice(0, readme.indexOf('\n## Contents'));
    expect(firstScreen).toMatch(/^# ward\n\nward is a Slack ChatOps bot for security incident response/);
    expect(firstScreen).toMatch(/!\[[^\]]+\]\(docs\/screenshots\/[^)]+\.png\)/);
    expect(section(readme, 'Deploy for your team')).toContain('](docs/deploy.md)');
  });

  it('the README stays under 15 KB, and lists every file of docs/', async () => {
    expect(Buffer.byteLength(readme)).toBeLessThan(15 * 1024);
    const { readdirSync } = await import('node:fs');
    const docs = readdirSync(new URL('../../docs/', import.meta.url)).filter((f) => f.endsWith('.md'));
    const contents = section(readme, 'Contents');
    expect(docs.filter((f) => !contents.includes(`](docs/${f})`))).toEqual([]);
  });
});

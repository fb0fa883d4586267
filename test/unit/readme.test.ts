import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commands } from '../../commands/index.js';
import { ENV_VARS } from '../../src/config/env.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = (title: string) => {
  const start = readme.indexOf(`## ${title}`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
};

describe('README stays true to the code', () => {
  it('the configuration reference lists every variable ward reads', () => {
    const reference = section('Configuration reference');
    const missing = ENV_VARS.filter((name) => !reference.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('the command reference has a row for every command', () => {
    const reference = section('Command reference');
    const missing = commands.map((c) => c.name).filter((name) => !reference.includes(`| \`/ward ${name}`));
    expect(missing).toEqual([]);
  });

  it('gives the two set-up commands: run ward, run the tests', () => {
    const quickStart = section('Quick start');
    expect(quickStart).toContain('npm ci && npm run sandbox');
    expect(quickStart).toContain('bash .ci/run');
    expect(readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8')).toMatch(/\nnpm test( |\n)/);
  });
});

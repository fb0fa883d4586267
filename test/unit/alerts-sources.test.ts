import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadRules } from '../../src/alerts/rules.js';
import {
  alertSourceEnvVars,
  alertSourceModules,
  enabledAlertSources,
  findAlertSource,
} from '../../src/alerts/sources/registry.js';
import { sourceAuthDescriptions } from '../../src/alerts/sources/source.js';
import { ENV_VARS, loadConfig, SECRET_VARS } from '../../src/config/env.js';

/*
 * The alert sources are one list (src/alerts/sources/index.ts). Everything a person reads about them (.env.example,
 * the source table in docs/alerts.md and docs/configuration.md) is checked against it here, so a new source cannot
 * be half-documented.
 */

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const envExample = read('.env.example');

/** The comment lines directly above `NAME=` in .env.example (not a `# --- section ---` line), joined with spaces. */
function envExampleDoc(name: string): string | undefined {
  const lines = envExample.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`${name}=`));
  if (at === -1) return undefined;
  const doc: string[] = [];
  for (let i = at - 1; i >= 0 && lines[i]!.startsWith('# ') && !lines[i]!.startsWith('# ---'); i--)
    doc.unshift(lines[i]!.slice(2));
  return doc.join(' ');
}

const minimal = { SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: 'abcdef0123456789' };

describe('alert sources: one list, everything else derived from it or checked against it', () => {
  it('names are path segments, and each source authenticates with variables it declares', () => {
    expect(alertSourceModules.length).toBeGreaterThan(0);
    for (const source of alertSourceModules) {
      expect(source.name).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(findAlertSource(source.name)).toBe(source);
      const declared = Object.keys(source.env);
      const { kind, ...vars } = source.auth;
      expect(Object.keys(sourceAuthDescriptions)).toContain(kind);
      for (const variable of Object.values(vars)) expect(declared).toContain(variable);
    }
    // The path is the sender's choice: names that are not sources are not found, inherited keys included.
    expect(findAlertSource('constructor')).toBeUndefined();
    expect(findAlertSource('')).toBeUndefined();
  });

  it("the env schema reads every source's variables, and keeps the secret ones secret", () => {
    for (const [name, spec] of alertSourceEnvVars) {
      expect(ENV_VARS).toContain(name);
      expect(SECRET_VARS.has(name)).toBe(spec.secret);
    }
  });

  it('a source is enabled by its own variables only', () => {
    expect(enabledAlertSources(loadConfig(minimal))).toEqual([]);
    for (const source of alertSourceModules) {
      const auth = source.auth;
      const variable = auth.kind === 'sns-signature' ? auth.topics : auth.token;
      const value =
        auth.kind === 'sns-signature' ? 'arn:aws:sns:us-east-1:123456789012:alerts' : 'token-0123';
      expect(enabledAlertSources(loadConfig({ ...minimal, [variable]: value }))).toEqual([source.name]);
    }
  });

  it("the rules' `source` matcher accepts every source and nothing else", () => {
    const rules = (source: string) =>
      `rules:\n  - name: r\n    match: { source: ${source} }\n    route: { channel: C0ALERTS }\n`;
    for (const source of alertSourceModules)
      expect(() => loadRules(rules(source.name), 'test')).not.toThrow();
    expect(() => loadRules(rules('nagios'), 'test')).toThrow(/source/);
  });

  it('.env.example documents every source variable with its declared doc line', () => {
    for (const [name, spec] of alertSourceEnvVars) {
      expect({ name, doc: envExampleDoc(name) }).toEqual({ name, doc: spec.doc });
    }
  });

  it('docs/configuration.md gives every source variable its doc line', () => {
    const reference = read('docs/configuration.md');
    for (const [name, spec] of alertSourceEnvVars) {
      const row = reference.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
      expect(row, name).toBeDefined();
      expect(row).toContain(spec.doc);
      expect(row!.includes('*(secret)*'), `${name} marked secret`).toBe(spec.secret);
    }
  });

  it("docs/alerts.md's source table has a row per source: endpoint, authentication and every variable", () => {
    const alerts = read('docs/alerts.md');
    const rows = alerts.split('\n').filter((l) => /^\| .* \| `POST \/alerts\//.test(l));
    expect(rows).toHaveLength(alertSourceModules.length);
    for (const source of alertSourceModules) {
      const row = rows.find((l) => l.includes(`| \`POST /alerts/${source.name}\` |`));
      expect(row, source.name).toBeDefined();
      expect(row).toContain(`| ${source.title} |`);
      expect(row).toContain(`| ${sourceAuthDescriptions[source.auth.kind]} |`);
      for (const variable of Object.keys(source.env)) expect(row).toContain(`\`${variable}\``);
    }
  });
});

import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';
import { z } from 'zod';
import { slackPrincipal } from '../config/policy.js';
import { parseDurationMs, parseYaml } from '../config/yaml-file.js';
import { type Alert, alertStatuses, isSeverity, type Severity, severities, severityRank } from './alert.js';
import { alertSources } from './sources/registry.js';

/*
 * Alert rules (WARD_RULES): which channel sees an alert, who is mentioned, which commands are offered as buttons
 * and which run automatically. Example:
 *
 *   defaults: { dedupeWindow: 30m, storm: { perMinute: 20 } }
 *   rules:
 *     - name: ssh-bruteforce
 *       match: { source: falco, title: { icontains: "ssh" }, severity: { gte: warning } }
 *       route: { channel: C0SECOPS, mention: S0ONCALL }
 *       suggest: [forensics, lockdown]
 *       auto: [forensics]
 *     - name: everything-else
 *       match: {}
 *       route: { channel: C0ALERTS }
 *
 * Rules are tried in order; the first whose criteria all hold applies and evaluation stops, unless that rule says
 * `continue: true`, in which case later rules are tried too (each match routes separately).
 */

/** Fields a criterion may test; plus `labels.<name>` for any label. */
export const ruleFields = [
  'source',
  'status',
  'severity',
  'title',
  'summary',
  'host',
  'fingerprint',
] as const;

export const ruleOperators = [
  'equals',
  'nequals',
  'contains',
  'icontains',
  'startswith',
  'regex',
  'in',
  'exists',
  'gt',
  'gte',
  'lt',
  'lte',
] as const;
export type RuleOperator = (typeof ruleOperators)[number];

const severityOperators = new Set<RuleOperator>(['gt', 'gte', 'lt', 'lte']);

/** One compiled test of one field. */
export type Criterion =
  | { field: string; op: 'equals' | 'nequals' | 'contains' | 'icontains' | 'startswith'; value: string }
  | { field: string; op: 'regex'; value: RE2JS }
  | { field: string; op: 'in'; value: readonly string[] }
  | { field: string; op: 'exists'; value: boolean }
  | { field: string; op: 'gt' | 'gte' | 'lt' | 'lte'; value: Severity };

export interface CompiledRule {
  name: string;
  /** All must hold; none means the rule matches every alert. */
  criteria: Criterion[];
  channels: string[];
  mention?: string;
  suggest: string[];
  auto: string[];
  /** `auto`: a matching new alert opens an incident at once (still one per fingerprint). */
  incident?: 'auto';
  continue: boolean;
  dedupeWindowMs: number;
  stormPerMinute: number;
}

export interface RuleSet {
  /** Where the rules came from (a file path), for messages. */
  source: string;
  rules: CompiledRule[];
  defaults: { dedupeWindowMs: number; stormPerMinute: number };
}

/** What one matching rule asks for. */
export interface MatchedRoute {
  rule: string;
  channels: string[];
  mention?: string;
  suggest: string[];
  auto: string[];
  incident?: 'auto';
  /** A repeat of the same fingerprint within this window updates the existing message. */
  dedupeWindowMs: number;
  /** More new alerts than this per minute for this rule are rolled up into one summary message. */
  stormPerMinute: number;
}

/** Used when the file has no `defaults`. */
export const builtinRuleDefaults = { dedupeWindowMs: 30 * 60_000, stormPerMinute: 20 } as const;

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v * 1000 : parseDurationMs(v);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration such as 90s, 30m or 2h' });
    return z.NEVER;
  }
  return ms;
});

const storm = z.object({ perMinute: z.number().int().min(1) }).strict();

const channelId = z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'must be a Slack channel id (C… or G…)');

const commandName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a command name such as forensics');

const scalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);

const operatorObject = z
  .object({
    equals: scalar.optional(),
    nequals: scalar.optional(),
    contains: scalar.optional(),
    icontains: scalar.optional(),
    startswith: scalar.optional(),
    regex: z.string().optional(),
    in: z.array(scalar).min(1).optional(),
    exists: z.boolean().optional(),
    gt: z.string().optional(),
    gte: z.string().optional(),
    lt: z.string().optional(),
    lte: z.string().optional(),
  })
  .strict();

type OperatorObject = z.infer<typeof operatorObject>;

/** A bare string, number or boolean means `equals`; otherwise an object of operators (all must hold). */
const condition = z.unknown().transform((v, ctx): OperatorObject => {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return { equals: String(v) };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected a value (meaning equals) or operators such as { icontains: ssh }',
    });
    return z.NEVER;
  }
  const parsed = operatorObject.safeParse(v);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown operator ${issue.keys.join(', ')} (use ${ruleOperators.join(', ')})`
        : issue.message;
    ctx.addIssue({ code: 'custom', path: issue.path, message });
  }
  return z.NEVER;
});

const enumFields: Record<string, readonly string[]> = {
  source: alertSources,
  status: alertStatuses,
  severity: severities,
};

function makeRuleSchema(knownCommands: readonly string[] | undefined) {
  const command = knownCommands
    ? commandName.refine((c) => knownCommands.includes(c), {
        error: (issue) =>
          `unknown command ${JSON.stringify(issue.input)} (known: ${knownCommands.join(', ')})`,
      })
    : commandName;
  return z
    .object({
      name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, _, . and - only'),
      match: z.record(z.string(), condition).default({}),
      route: z
        .object({
          channel: z.union([channelId, z.array(channelId).min(1)]),
          mention: slackPrincipal.optional(),
        })
        .strict(),
      suggest: z.array(command).default([]),
      auto: z.array(command).default([]),
      incident: z.enum(['auto', 'button'], { error: 'must be auto or button' }).optional(),
      continue: z.boolean().default(false),
      dedupeWindow: duration.optional(),
      storm: storm.optional(),
    })
    .strict()
    .transform((rule, ctx) => {
      const criteria: Criterion[] = [];
      let ok = true;
      const problem = (path: (string | number)[], message: string) => {
        ok = false;
        ctx.addIssue({ code: 'custom', path, message: `rule ${JSON.stringify(rule.name)}: ${message}` });
      };
      for (const [field, ops] of Object.entries(rule.match)) {
        const isLabel = /^labels\..+/.test(field);
        if (!isLabel && !(ruleFields as readonly string[]).includes(field)) {
          problem(['match', field], `unknown field (use ${ruleFields.join(', ')} or labels.<name>)`);
          continue;
        }
        const entries = Object.entries(ops).filter(([, v]) => v !== undefined) as [RuleOperator, unknown][];
        if (entries.length === 0) {
          problem(['match', field], `no operator (use one of ${ruleOperators.join(', ')})`);
          continue;
        }
        const allowed = enumFields[field];
        for (const [op, value] of entries) {
          const at = ['match', field, op];
          if (severityOperators.has(op)) {
            if (field !== 'severity') {
              problem(at, `${op} compares severities and only applies to the severity field`);
            } else if (typeof value !== 'string' || !isSeverity(value)) {
              problem(at, `expected a severity (${severities.join(', ')})`);
            } else {
              criteria.push({ field, op: op as 'gt', value });
            }
            continue;
          }
          if (allowed && (op === 'equals' || op === 'nequals' || op === 'in')) {
            const values = Array.isArray(value) ? (value as string[]) : [value as string];
            const bad = values.find((v) => !allowed.includes(v));
            if (bad !== undefined) {
              problem(at, `${JSON.stringify(bad)} is not a ${field} (expected ${allowed.join(', ')})`);
              continue;
            }
          }
          switch (op) {
            case 'regex': {
              const compiled = compileRuleRegex(value as string);
              if (!('problem' in compiled)) criteria.push({ field, op, value: compiled });
              else problem(at, compiled.problem);
              break;
            }
            case 'in':
              criteria.push({ field, op, value: value as string[] });
              break;
            case 'exists':
              criteria.push({ field, op, value: value as boolean });
              break;
            default:
              criteria.push({ field, op: op as 'equals', value: value as string });
          }
        }
      }
      if (!ok) return z.NEVER;
      return {
        name: rule.name,
        criteria,
        channels: Array.isArray(rule.route.channel) ? rule.route.channel : [rule.route.channel],
        ...(rule.route.mention === undefined ? {} : { mention: rule.route.mention }),
        suggest: rule.suggest,
        auto: rule.auto,
        ...(rule.incident === 'auto' ? { incident: 'auto' as const } : {}),
        continue: rule.continue,
        dedupeWindow: rule.dedupeWindow,
        storm: rule.storm,
      };
    });
}

/** re2js, loaded on the first rule that has a regex (ward without one never needs it: its code is 1 MiB of heap). */
let re2: typeof import('re2js') | undefined;
function re2js(): typeof import('re2js') {
  re2 ??= createRequire(import.meta.url)('re2js') as typeof import('re2js');
  return re2;
}

/**
 * Compiles a rule's `regex` with RE2 (re2js), never with JavaScript's RegExp: a rule is matched against text an
 * attacker writes (alert titles, summaries, labels), and a backtracking engine lets a pattern such as
 * `^(\w+\s?)*$` take exponential time on a crafted 32-character title, blocking the event loop (health checks,
 * Slack acks) for minutes. RE2 matches in time linear in the input, and refuses what it cannot run that way:
 * lookahead, lookbehind and backreferences. Those are refused here, at load, so a rules file either loads whole
 * or not at all.
 */
export function compileRuleRegex(pattern: string): RE2JS | { problem: string } {
  try {
    return re2js().RE2JS.compile(pattern);
  } catch (err) {
    const reason = (err as Error).message.replace(/^error parsing regexp: /, '');
    return {
      problem:
        `invalid regex ${JSON.stringify(pattern)}: ${reason} ` +
        '(rule regexes use RE2 syntax: no lookahead, lookbehind or backreferences)',
    };
  }
}

function makeRulesFileSchema(knownCommands: readonly string[] | undefined) {
  return z
    .object({
      defaults: z.object({ dedupeWindow: duration.optional(), storm: storm.optional() }).strict().default({}),
      rules: z.array(makeRuleSchema(knownCommands)),
    })
    .strict()
    .superRefine((file, ctx) => {
      const seen = new Map<string, number>();
      file.rules.forEach((rule, i) => {
        const first = seen.get(rule.name);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, 'name'],
            message: `duplicate rule name ${JSON.stringify(rule.name)} (also rules[${first}])`,
          });
        } else {
          seen.set(rule.name, i);
        }
      });
    });
}

/**
 * Parses and compiles a rules file (regexes are compiled here, once). Throws ConfigError listing every problem
 * as `line N: rules.0.match.title.regex: rule "x": invalid regex …`. `options.commands`, when given, is the list
 * of command names that exist: a rule suggesting any other is refused at load, not when an alert arrives.
 */
export function loadRules(
  yamlText: string,
  source: string,
  options: { commands?: readonly string[] } = {},
): RuleSet {
  const file = parseYaml(yamlText, makeRulesFileSchema(options.commands), `Alert rules (${source})`);
  const defaults = {
    dedupeWindowMs: file.defaults.dedupeWindow ?? builtinRuleDefaults.dedupeWindowMs,
    stormPerMinute: file.defaults.storm?.perMinute ?? builtinRuleDefaults.stormPerMinute,
  };
  const rules: CompiledRule[] = file.rules.map((r) => ({
    name: r.name,
    criteria: r.criteria,
    channels: r.channels,
    ...(r.mention === undefined ? {} : { mention: r.mention }),
    suggest: r.suggest,
    auto: r.auto,
    ...(r.incident === undefined ? {} : { incident: r.incident }),
    continue: r.continue,
    dedupeWindowMs: r.dedupeWindow ?? defaults.dedupeWindowMs,
    stormPerMinute: r.storm?.perMinute ?? defaults.stormPerMinute,
  }));
  return { source, rules, defaults };
}

/** The value a criterion tests: a top-level field, or `labels.<name>`. Undefined when absent. */
function fieldValue(alert: Alert, field: string): string | undefined {
  if (field.startsWith('labels.')) return alert.labels[field.slice('labels.'.length)];
  switch (field) {
    case 'source':
    case 'status':
    case 'severity':
    case 'title':
    case 'summary':
    case 'fingerprint':
      return alert[field];
    case 'host':
      return alert.host;
    default:
      return undefined;
  }
}

/**
 * Whether one criterion holds. An absent field (no host, no such label) satisfies only `exists: false` and
 * `nequals` (an absent value is not equal to anything).
 */
export function criterionHolds(criterion: Criterion, alert: Alert): boolean {
  const actual = fieldValue(alert, criterion.field);
  if (criterion.op === 'exists') return (actual !== undefined) === criterion.value;
  if (actual === undefined) return criterion.op === 'nequals';
  switch (criterion.op) {
    case 'equals':
      return actual === criterion.value;
    case 'nequals':
      return actual !== criterion.value;
    case 'contains':
      return actual.includes(criterion.value);
    case 'icontains':
      return actual.toLowerCase().includes(criterion.value.toLowerCase());
    case 'startswith':
      return actual.startsWith(criterion.value);
    case 'regex':
      return criterion.value.test(actual);
    case 'in':
      return criterion.value.includes(actual);
    default: {
      if (!isSeverity(actual)) return false;
      const diff = severityRank(actual) - severityRank(criterion.value);
      if (criterion.op === 'gt') return diff > 0;
      if (criterion.op === 'gte') return diff >= 0;
      if (criterion.op === 'lt') return diff < 0;
      return diff <= 0;
    }
  }
}

/**
 * The routes for an alert, in rule order: the first matching rule, plus any further matches while the matched
 * rules say `continue: true`. Empty when no rule matches (the relay then uses its fallback channel: an accepted
 * alert is never dropped).
 */
export function matchRules(ruleSet: RuleSet, alert: Alert): MatchedRoute[] {
  const routes: MatchedRoute[] = [];
  for (const rule of ruleSet.rules) {
    if (!rule.criteria.every((c) => criterionHolds(c, alert))) continue;
    routes.push({
      rule: rule.name,
      channels: rule.channels,
      ...(rule.mention === undefined ? {} : { mention: rule.mention }),
      suggest: rule.suggest,
      auto: rule.auto,
      ...(rule.incident === undefined ? {} : { incident: rule.incident }),
      dedupeWindowMs: rule.dedupeWindowMs,
      stormPerMinute: rule.stormPerMinute,
    });
    if (!rule.continue) break;
  }
  return routes;
}

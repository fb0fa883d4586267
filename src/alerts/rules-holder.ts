import { readConfigFile } from '../config/yaml-file.js';
import { ConfigError } from '../errors.js';
import { builtinRuleDefaults, type Criterion, loadRules, type RuleSet } from './rules.js';

export type ReloadResult = { ok: true; ruleSet: RuleSet } | { ok: false; problems: string[]; kept: RuleSet };

/**
 * The alert rules in use. From the WARD_RULES file when set (invalid at start: ward refuses to start; invalid on
 * reload: the rules in use stay and the problems are returned with their line numbers), else one built-in rule
 * routing every alert to WARD_ALERT_DEFAULT_CHANNEL.
 */
export class AlertRules {
  private ruleSet: RuleSet;

  constructor(
    readonly path: string | undefined,
    private readonly defaultChannel: string,
    private readonly commands: readonly string[],
  ) {
    this.ruleSet = path === undefined ? builtinRuleSet(defaultChannel) : this.read(path);
  }

  current(): RuleSet {
    return this.ruleSet;
  }

  /** Reads WARD_RULES again; keeps the rules in use when the file is missing or invalid. */
  reload(): ReloadResult {
    if (this.path === undefined) {
      return {
        ok: false,
        problems: ['WARD_RULES is not set: the built-in rule (everything to the default channel) is in use'],
        kept: this.ruleSet,
      };
    }
    try {
      this.ruleSet = this.read(this.path);
      return { ok: true, ruleSet: this.ruleSet };
    } catch (err) {
      if (err instanceof ConfigError) return { ok: false, problems: err.problems, kept: this.ruleSet };
      throw err;
    }
  }

  private read(path: string): RuleSet {
    return loadRules(readConfigFile(path, 'Alert rules', 'WARD_RULES'), path, { commands: this.commands });
  }

  /** Where unmatched alerts go (and alerts whose channel Slack refuses). */
  get fallbackChannel(): string {
    return this.defaultChannel;
  }
}

/** The rules without WARD_RULES: everything to the default channel, nothing suggested or run. */
export function builtinRuleSet(channel: string): RuleSet {
  return {
    source: 'built-in (WARD_RULES not set)',
    defaults: { ...builtinRuleDefaults },
    rules: [
      {
        name: 'default',
        criteria: [],
        channels: [channel],
        suggest: [],
        auto: [],
        continue: false,
        dedupeWindowMs: builtinRuleDefaults.dedupeWindowMs,
        stormPerMinute: builtinRuleDefaults.stormPerMinute,
      },
    ],
  };
}

function describeCriterion(c: Criterion): string {
  const value =
    c.op === 'regex'
      ? `/${c.value.pattern()}/`
      : Array.isArray(c.value)
        ? `[${c.value.join(', ')}]`
        : typeof c.value === 'boolean'
          ? String(c.value)
          : JSON.stringify(c.value);
  return `${c.field} ${c.op} ${value}`;
}

function describeMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

/**
 * How a rules summary writes its pieces: `text` for what the rules file says (the caller's escaping), `channel` for
 * a channel id (a name where one is known). The default is plain text with channel ids, for the log.
 */
export interface RuleSummaryFormat {
  text(s: string): string;
  channel(id: string): string;
}

const plainFormat: RuleSummaryFormat = { text: (s) => s, channel: (id) => id };

/** One line per rule, in order, for `/ward rules` and the log. */
export function summarizeRules(ruleSet: RuleSet, format: RuleSummaryFormat = plainFormat): string[] {
  const t = format.text;
  return ruleSet.rules.map((r, i) => {
    const parts = [
      t(
        `${i + 1}. ${r.name}: ${r.criteria.length === 0 ? 'every alert' : r.criteria.map(describeCriterion).join(' and ')}`,
      ),
      `${t('→ ')}${r.channels.map((c) => format.channel(c)).join(', ')}${r.mention ? t(` (mention ${r.mention})`) : ''}`,
    ];
    if (r.suggest.length > 0) parts.push(t(`suggest ${r.suggest.join(', ')}`));
    if (r.auto.length > 0) parts.push(t(`auto ${r.auto.join(', ')}`));
    parts.push(t(`dedupe ${describeMs(r.dedupeWindowMs)}, storm over ${r.stormPerMinute}/min`));
    if (r.continue) parts.push('continue');
    return parts.join('; ');
  });
}

/** Every channel the rules route to, each once, in order of first mention. */
export function ruleChannels(ruleSet: RuleSet): string[] {
  return [...new Set(ruleSet.rules.flatMap((r) => r.channels))];
}

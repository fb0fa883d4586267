/** A rule set as the `rules` command shows it. */
export interface RuleSetView {
  /** Where the rules came from: the WARD_RULES path or "built-in". */
  source: string;
  rules: readonly unknown[];
}

/** The outcome of a reload: the new rules, or every problem and the rules kept in use. */
export type RulesReload =
  | { ok: true; ruleSet: RuleSetView }
  | { ok: false; problems: string[]; kept: RuleSetView };

/** What the rest of ward (the `rules` command, SIGHUP) may do with the alert relay (src/alerts/install.ts). */
export interface AlertsControl {
  rules: {
    /** The rules in use. */
    current(): RuleSetView;
    /** Where an alert no rule matches goes. */
    fallbackChannel: string;
  };
  /** Reloads WARD_RULES, keeping the rules in use when the file is invalid; audited as `config.reload`. */
  reloadRules(actor: { user?: string; trigger: 'command' | 'SIGHUP' }): Promise<RulesReload>;
  /**
   * The rules in use, one line each: plain text by default; with `format`, the rules' own words go through
   * `format.text` (escaping) and channel ids through `format.channel` (a name where one is known).
   */
  summary(format?: { text(s: string): string; channel(id: string): string }): string[];
  /** Every channel the rules in use route to. */
  channels(): string[];
}

/**
 * The one place an execution's (or a request's) state becomes words and an icon. Every surface that says how a
 * request ended (the request message, its thread, `/ward status`, `/ward audit`, `/ward hosts`, the sandbox) asks
 * this function, so that a dry run cannot read "succeeded" in one place and "nothing changed" in another.
 *
 * Icons are Unicode emoji rather than `:codes:`: Slack renders both, but a code Slack does not know (or a viewer
 * that is not Slack, like an email or a log) shows the code itself.
 */
export interface OutcomeLabel {
  /** The stable machine word (audit `outcome`, metrics label): `dry_run`, `succeeded`, `failed`… */
  key: string;
  /** What a person reads: "dry run: nothing changed", "succeeded", "partly done"… */
  label: string;
  icon: string;
}

const LABELS: Record<string, Omit<OutcomeLabel, 'key'>> = {
  pending: { label: 'waiting for approval', icon: '⏳' },
  approved: { label: 'approved, starting', icon: '✅' },
  running: { label: 'running', icon: '⚙️' },
  succeeded: { label: 'succeeded', icon: '✅' },
  dry_run: { label: 'dry run: nothing changed', icon: 'ℹ️' },
  failed: { label: 'failed', icon: '❌' },
  partial: { label: 'partly done', icon: '⚠️' },
  interrupted: { label: 'interrupted (may have partly run)', icon: '⏸️' },
  denied: { label: 'denied: nothing was run', icon: '⛔' },
  cancelled: { label: 'cancelled: nothing was run', icon: '🚫' },
  expired: { label: 'expired: nothing was run', icon: '⌛' },
  plan_changed: { label: 'not run: plan changed', icon: '⚠️' },
  finished: { label: 'finished', icon: '✅' },
};

/**
 * Maps a state to its label. `dryRun` covers records written before `dry_run` was an outcome of its own (a request
 * stored as `succeeded` with `result.dryRun`): they read as the dry run they were.
 */
export function outcomeLabel(state: string | undefined, dryRun = false): OutcomeLabel {
  const key = dryRun && (state === 'succeeded' || state === 'finished') ? 'dry_run' : (state ?? 'unknown');
  const known = LABELS[key];
  return { key, ...(known ?? { label: key.replace(/_/g, ' '), icon: '' }) };
}

/** "ℹ️ dry run: nothing changed": icon and label, for a line of text. */
export function outcomeText(state: string | undefined, dryRun = false): string {
  const o = outcomeLabel(state, dryRun);
  return o.icon ? `${o.icon} ${o.label}` : o.label;
}

import type { Plan, StepResult } from '../core/command.js';
import type { ChatMessage } from '../ports/chat.js';
import { code, context, esc, fields, header, section } from '../render/blocks.js';
import type { CloudTarget } from './target.js';

const MARK: Record<StepResult['status'], string> = {
  succeeded: ':white_check_mark:',
  failed: ':x:',
  skipped: ':black_square_button:',
  interrupted: ':double_vertical_bar:',
};

export interface CloudResult {
  title: string;
  target: CloudTarget;
  results: readonly StepResult[];
  outcome: 'succeeded' | 'failed' | 'partial';
  summary: string;
  snapshots?: ReadonlyArray<{ volumeId: string; deviceName: string; snapshotId: string }>;
  evidencePath?: string | undefined;
}

/**
 * The result of a cloud command as Block Kit: instance, outcome, each step with what it changed (done / failed /
 * not reached), the evidence snapshots by id. Pure: golden-testable.
 */
export function renderCloudReport(plan: Plan, r: CloudResult): ChatMessage {
  const lines = plan.steps.map((step, i) => {
    const result = r.results.find((x) => x.id === step.id);
    const status = result?.status ?? 'skipped';
    const label = status === 'skipped' ? 'not reached' : status === 'succeeded' ? 'done' : status;
    return `${MARK[status]} ${i + 1}. ${esc(step.title)}: *${label}*${result?.detail && status !== 'skipped' ? `\n      ${esc(result.detail)}` : ''}`;
  });
  const outcomeText =
    r.outcome === 'succeeded'
      ? ':lock: succeeded'
      : r.outcome === 'partial'
        ? ':warning: partial'
        : ':x: failed';
  const blocks = [
    header(`${r.title}: ${r.outcome}`),
    fields([
      ['Instance', `${code(r.target.instanceId)}${r.target.host ? ` (${esc(r.target.name)})` : ''}`],
      ['Region', code(r.target.region)],
      ['Outcome', outcomeText],
      [
        'Steps',
        `${r.results.filter((x) => x.status === 'succeeded').length} done, ${r.results.filter((x) => x.status === 'failed').length} failed, ${r.results.filter((x) => x.status === 'skipped' || x.status === 'interrupted').length} not reached`,
      ],
    ]),
    section(lines.join('\n')),
  ];
  if (r.snapshots && r.snapshots.length > 0) {
    blocks.push(
      section(
        `*Evidence snapshots*\n${r.snapshots.map((s) => `• ${code(s.snapshotId)} of ${code(s.volumeId)} (${esc(s.deviceName)})`).join('\n')}`,
      ),
    );
  }
  blocks.push(
    context(
      esc(r.summary),
      ...(r.evidencePath ? [`Recorded state and step log: ${code(r.evidencePath)}`] : []),
    ),
  );
  return { text: `${r.title}: ${r.summary}`, blocks };
}

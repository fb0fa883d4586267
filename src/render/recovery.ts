import type { ExecutionRecord } from '../core/executions.js';
import type { ChatMessage } from '../ports/chat.js';
import { actions, code, context, esc, header, section } from './blocks.js';
import { userText } from './user-text.js';

const MAX_LINES = 40;

/**
 * An interrupted execution, told honestly: what was done, what was in progress (its effect unknown), what was not
 * started, and a button that starts a new request through approval. Nothing is re-run by itself.
 */
export function renderInterrupted(record: ExecutionRecord): ChatMessage {
  const done = record.steps.filter((s) => s.status === 'succeeded');
  const failed = record.steps.filter((s) => s.status === 'failed');
  const unknown = record.steps.filter((s) => s.status === 'running' || s.status === 'interrupted');
  const notDone = record.steps.filter((s) => s.status === 'pending' || s.status === 'skipped');
  const list = (steps: ExecutionRecord['steps'], mark: string) =>
    steps
      .slice(0, MAX_LINES)
      .map((s) => `${mark} ${esc(s.title)}${s.detail ? ` (${userText(s.detail, 300)})` : ''}`)
      .join('\n') + (steps.length > MAX_LINES ? `\n… and ${steps.length - MAX_LINES} more` : '');
  const parts: string[] = [];
  if (done.length) parts.push(`*Done*\n${list(done, ':white_check_mark:')}`);
  if (failed.length) parts.push(`*Failed*\n${list(failed, ':x:')}`);
  if (unknown.length)
    parts.push(
      `*In progress when it stopped: may have partly run, check by hand*\n${list(unknown, ':grey_question:')}`,
    );
  if (notDone.length === record.steps.length && notDone.length > 0) {
    // Nothing was recorded as started: either it died at once, or the command records no progress. Say both.
    parts.push(
      `*Not recorded as started* (the command may not record its progress: check these by hand)\n${list(notDone, ':grey_question:')}`,
    );
  } else if (notDone.length) parts.push(`*Not done*\n${list(notDone, ':white_circle:')}`);
  if (parts.length === 0) parts.push('_No step had been recorded as started._');
  const title = `${record.command} interrupted`;
  return {
    text: `${record.command} (request ${record.requestId}) was interrupted: ${record.interruption ?? 'ward stopped'}. ${done.length} step(s) done, ${notDone.length + unknown.length} not done or unknown. Nothing will be re-run automatically.`,
    blocks: [
      header(`:warning: ${title}`),
      section(
        `${userText(`/ward ${record.text}`)} requested by <@${record.requester}> (request ${code(record.requestId)}) did not finish: ${esc(record.interruption ?? 'ward stopped')}.`,
      ),
      ...parts.map((p) => section(p)),
      actions(`recovery:${record.requestId}`.slice(0, 255), [
        {
          text: 'Re-run through approval',
          actionId: 'recovery.rerun',
          value: record.requestId,
          confirm: {
            title: 'Start a new request?',
            text: 'This asks for the same command again as a new request, with its own plan and approvals. Nothing runs until it is approved.',
            confirm: 'Request again',
            deny: 'Cancel',
          },
        },
      ]),
      context(
        'Nothing is re-run automatically. A re-run is a new request: same approvals, same second factor.',
      ),
    ],
  };
}

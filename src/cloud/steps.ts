import type { ExecutionContext, PlanStep, StepResult } from '../core/command.js';
import { newErrorRef, WardError } from '../errors.js';

/**
 * A step that changed some things before it failed (the first of two network interfaces, say): the failure
 * message alone would hide what did change, so the step says both.
 */
export class PartialStepError extends WardError {
  constructor(done: string[], cause: unknown) {
    const why = cause instanceof WardError ? cause.userMessage : 'an unexpected error';
    super(
      cause instanceof WardError ? cause.code : 'ward_cloud_step_failed',
      done.length > 0 ? `${why} (already done in this step: ${done.join('; ')})` : why,
      { cause },
    );
  }
}

/** Runs `work` item by item, collecting what each did; on a failure, says which items were done before it. */
export async function eachItem<T>(
  items: readonly T[],
  work: (item: T) => Promise<string>,
): Promise<string[]> {
  const done: string[] = [];
  for (const item of items) {
    try {
      done.push(await work(item));
    } catch (err) {
      throw new PartialStepError(done, err);
    }
  }
  return done;
}

export type StepHandlers = Record<string, () => Promise<string>>;

/**
 * Runs the plan's steps in order with the handler of each step id. Each step reports what it changed; the first
 * failure stops the plan, and every later step is reported as not reached. Shutdown (the signal) stops at the
 * next step boundary, never in the middle of a step.
 */
export async function runSteps<A>(
  ctx: ExecutionContext<A>,
  steps: readonly PlanStep[],
  handlers: StepHandlers,
  onStep?: (step: PlanStep, result: StepResult) => Promise<void>,
): Promise<{ results: StepResult[]; failed: StepResult | undefined }> {
  const results: StepResult[] = [];
  let failed: StepResult | undefined;
  for (const step of steps) {
    let result: StepResult;
    if (failed) {
      result = { id: step.id, status: 'skipped', detail: 'not reached' };
    } else if (ctx.signal.aborted) {
      result = { id: step.id, status: 'interrupted', detail: 'not reached: ward is shutting down' };
    } else {
      const handler = handlers[step.id];
      try {
        if (!handler) throw new Error(`no handler for step ${step.id}`);
        result = { id: step.id, status: 'succeeded', detail: await handler() };
      } catch (err) {
        let detail: string;
        if (err instanceof WardError) {
          detail = err.userMessage;
          ctx.services.log.warn(
            { approvalRequestId: ctx.approvalRequestId, step: step.id, code: err.code, err },
            'cloud step failed',
          );
        } else {
          const ref = newErrorRef();
          ctx.services.log.error(
            { approvalRequestId: ctx.approvalRequestId, step: step.id, ref, err },
            'cloud step failed',
          );
          detail = `internal error (ref ${ref}); see ward's log`;
        }
        result = { id: step.id, status: 'failed', detail };
        failed = result;
      }
    }
    results.push(result);
    await onStep?.(step, result);
  }
  return { results, failed };
}

/** One paragraph for the request's message: where the plan stopped, in words. */
export function summarize(
  what: string,
  steps: readonly PlanStep[],
  results: readonly StepResult[],
): { outcome: 'succeeded' | 'failed' | 'partial'; summary: string } {
  const done = results.filter((r) => r.status === 'succeeded').length;
  const failed = results.find((r) => r.status === 'failed');
  const stopped = results.find((r) => r.status === 'interrupted');
  const title = (id: string) => steps.find((s) => s.id === id)?.title ?? id;
  if (!failed && !stopped) return { outcome: 'succeeded', summary: `${what}: all ${done} steps done.` };
  const notReached = results.length - done - 1;
  const where = failed ?? stopped!;
  const outcome = done === 0 ? 'failed' : 'partial';
  return {
    outcome,
    summary:
      `${what}: stopped at step ${results.indexOf(where) + 1} of ${results.length} ("${title(where.id)}"): ${(where.detail ?? where.status).replace(/\.$/, '')}. ` +
      `${done} step(s) done, ${notReached} not reached.`,
  };
}

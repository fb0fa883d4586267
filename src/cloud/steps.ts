import type { ExecutionContext, PlanStep, StepResult } from '../core/command.js';
import { newErrorRef, WardError } from '../errors.js';
import type {
  CloudCall,
  CloudCallResults,
  CloudCallTemplate,
  CloudProvider,
} from '../ports/cloud-isolation.js';
import { matchesTemplate, performCall } from './calls.js';
import { CloudStateError } from './errors.js';

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

/** What a cloud step's `run` gets when it runs. */
export interface StepRun<S> {
  ctx: ExecutionContext<unknown>;
  /** Shared by the steps of one execution (what step 1 recorded, the groups step 3 prepared, …). */
  state: S;
  /**
   * Makes one of the calls the step shows, and only those: a call that is not an instance of one of the step's
   * `calls` templates throws before it reaches the provider.
   */
  call<C extends CloudCall>(call: C): Promise<CloudCallResults[C['op']]>;
}

/**
 * One step of a cloud plan: what it shows and what it runs, built together from the same data. `calls` are the
 * port calls it makes (placeholders where a value is only known at run time); the plan shows them through the
 * provider (`showCall`), and `run` can make no other call.
 */
export interface CloudStep<S> {
  id: string;
  /** One line a human approves. */
  title: string;
  calls: CloudCallTemplate[];
  /** What else the step changes, outside the cloud (store keys, evidence files), shown after the calls. */
  effects?: string[];
  /** Does the step; returns what it changed, in words. */
  run(run: StepRun<S>): Promise<string>;
}

/** The plan form of a cloud step: its title and, one per line, the exact API calls and effects. */
export function toPlanStep(provider: CloudProvider, step: CloudStep<unknown>): PlanStep {
  return {
    id: step.id,
    title: step.title,
    commands: [...step.calls.flatMap((c) => provider.showCall(c)), ...(step.effects ?? [])],
  };
}

/**
 * Runs the steps in order. Each step reports what it changed; the first failure stops the plan, and every later
 * step is reported as not reached. Shutdown (the signal) stops at the next step boundary, never in the middle of a
 * step. Before anything runs, the steps must show exactly the approved plan's steps: what was approved is what runs.
 */
export async function runSteps<S>(
  ctx: ExecutionContext<unknown>,
  target: { provider: CloudProvider; region: string },
  steps: ReadonlyArray<CloudStep<S>>,
  state: S,
  onStep?: (step: PlanStep, result: StepResult) => Promise<void>,
): Promise<{ results: StepResult[]; failed: StepResult | undefined }> {
  const shown = steps.map((s) => toPlanStep(target.provider, s as CloudStep<unknown>));
  if (JSON.stringify(shown) !== JSON.stringify(ctx.plan.steps)) {
    throw new CloudStateError(
      `Nothing was changed: the ${ctx.plan.command} steps built for execution differ from the approved plan (the inventory or the recorded state changed since it was approved). Make a new request.`,
      'ward_cloud_plan_changed',
    );
  }
  const cloud = await target.provider.load(ctx.services.config);
  const results: StepResult[] = [];
  let failed: StepResult | undefined;
  for (const [i, step] of steps.entries()) {
    let result: StepResult;
    if (failed) {
      result = { id: step.id, status: 'skipped', detail: 'not reached' };
    } else if (ctx.signal.aborted) {
      result = { id: step.id, status: 'interrupted', detail: 'not reached: ward is shutting down' };
    } else {
      const call = <C extends CloudCall>(c: C): Promise<CloudCallResults[C['op']]> => {
        if (!step.calls.some((t) => matchesTemplate(t, c))) {
          throw new Error(`step ${step.id} made a call its plan does not show: ${JSON.stringify(c)}`);
        }
        return performCall(cloud, target.region, c);
      };
      try {
        result = { id: step.id, status: 'succeeded', detail: await step.run({ ctx, state, call }) };
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
    await onStep?.(shown[i]!, result);
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

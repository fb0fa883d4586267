import { createHash } from 'node:crypto';
import { fanOut } from '../actions/fan-out.js';
import { DrainerLock } from '../alerts/drainer-lock.js';
import type { CommandServices } from '../core/command.js';
import { containmentDriftTotal, containmentLastVerifiedSeconds } from '../metrics.js';
import type { ChatMessage } from '../ports/chat.js';
import { actions, context, esc, section } from '../render/blocks.js';
import { clockTime } from '../render/time.js';
import { userText, userTextPlain } from '../render/user-text.js';
import {
  type CheckOutcome,
  checkTarget,
  type DriftKind,
  type Item,
  listTargets,
  type Target,
  type Thread,
} from './checks.js';

/**
 * Containment that holds: every WARD_CONTAINMENT_CHECK_SECONDS one replica (a Redis lease) checks every containment
 * ward believes in, read-only, and says loudly what changed behind its back. Nothing is re-applied here: a drift
 * offers a "Re-apply" button that opens a new request through the normal path (roles, approvals, MFA).
 */

export const checkerLeaseKey = 'ward:lock:containment-checker';
export const checkStateKey = (targetId: string): string => `ward:containment:check:${targetId}`;

/** What ward remembers between checks of one target: the last result, failures in a row, what it already said. */
export interface CheckState {
  /** Epoch ms of the last check that got an answer (ok or drift). */
  lastVerifiedAt?: number | undefined;
  /** Epoch ms and result of the last check, whatever it was. */
  lastCheckedAt: number;
  result: 'ok' | 'drift' | 'unverified';
  detail?: string | undefined;
  failures: number;
  /** Since when checks fail (epoch ms), while they do. */
  failingSince?: number | undefined;
  unverifiedReported: boolean;
  /** Drift already reported, per item: its signature (reported again only when it changes) and where. */
  drifts: Record<string, { signature: string; kind: DriftKind; label: string; thread: Thread | undefined }>;
  /** How messages name the target (kept so that a target ward no longer holds can still be named). */
  name: string;
}

export async function readCheckState(
  services: Pick<CommandServices, 'store'>,
  targetId: string,
): Promise<CheckState | undefined> {
  const raw = await services.store.get(checkStateKey(targetId));
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as CheckState;
  } catch {
    return undefined;
  }
}

const signatureOf = (differences: string[]): string =>
  createHash('sha256').update(differences.join('\n')).digest('hex').slice(0, 16);

/** Posts in the request's thread and at the top of its channel: drift must be seen, not only by the thread's readers. */
async function say(
  services: CommandServices,
  thread: Thread | undefined,
  message: ChatMessage,
): Promise<void> {
  if (!thread?.channel) {
    services.log.warn({ text: message.text }, 'containment: no channel to report to');
    return;
  }
  const post = (opts: { threadTs?: string }) =>
    services.chat.postMessage(thread.channel, message, opts).catch((err) => {
      services.log.error({ err }, 'containment: could not post');
    });
  if (thread.ts) await post({ threadTs: thread.ts });
  await post({});
}

function reapplyButton(item: Item): NonNullable<ChatMessage['blocks']> {
  return [
    actions('containment.reapply', [
      {
        text: 'Re-apply',
        actionId: 'containment.reapply',
        value: JSON.stringify(item.reapply),
        style: 'primary',
      },
    ]),
  ];
}

/** A time in a message (`14:32 UTC`, with its date and how long ago when `now` is given); audit details keep ISO. */
const when = (ms: number, now?: number): string => clockTime(ms, now);
const isoSecond = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** What one check found, as the target's state and what ward says. Exported for `/ward verify`. */
export interface Verdict {
  target: Target;
  outcome: CheckOutcome;
  state: CheckState | undefined;
}

/**
 * Records one check and reports what changed since the last: a new or changed drift (once, until it changes or is
 * fixed), a fix, a target that stayed unreachable WARD_CONTAINMENT_UNVERIFIED_AFTER times, and its return. The state
 * is written with compare-and-set: when two checks of one target race (a pass and `/ward verify`), only one speaks.
 */
export async function recordCheck(
  services: CommandServices,
  listed: Target,
  outcome: CheckOutcome,
): Promise<Verdict> {
  const target = (outcome.status === 'checked' ? outcome.target : undefined) ?? listed;
  const key = checkStateKey(target.id);
  const raw = await services.store.get(key);
  const prev: CheckState | undefined = raw ? (JSON.parse(raw) as CheckState) : undefined;
  if (outcome.status === 'busy') return { target, outcome, state: prev };
  const now = services.clock.now();
  const next: CheckState = {
    lastVerifiedAt: prev?.lastVerifiedAt,
    lastCheckedAt: now,
    result: 'ok',
    failures: 0,
    unverifiedReported: false,
    drifts: { ...(prev?.drifts ?? {}) },
    name: target.name,
  };
  const messages: Array<() => Promise<void>> = [];
  const owner = target.items[0];

  if (outcome.status === 'unverified') {
    next.result = 'unverified';
    next.detail = outcome.reason;
    next.failures = (prev?.failures ?? 0) + 1;
    next.failingSince = prev?.failingSince ?? now;
    next.unverifiedReported = prev?.unverifiedReported ?? false;
    const threshold = services.config.WARD_CONTAINMENT_UNVERIFIED_AFTER;
    if (next.failures >= threshold && !next.unverifiedReported) {
      next.unverifiedReported = true;
      const text = `:grey_question: Containment on *${esc(target.name)}* is UNVERIFIED: ${next.failures} checks in a row since ${when(next.failingSince)} could not reach it (${userText(outcome.reason, 300)}). ward does not know whether ${target.items.map((i) => esc(i.label)).join(', ')} still hold${target.items.length === 1 ? 's' : ''}; check it by other means.`;
      messages.push(async () => {
        await services.audit
          .record({
            type: 'containment.unverified',
            actor: 'ward',
            requestId: owner?.requestId,
            hosts: [target.name],
            details: {
              failures: next.failures,
              reason: outcome.reason,
              since: isoSecond(next.failingSince!),
            },
          })
          .catch((err) => services.log.error({ err }, 'could not audit an unverified containment'));
        await say(services, owner?.thread, { text });
      });
    }
  } else {
    next.lastVerifiedAt = now;
    containmentLastVerifiedSeconds.set({ host: target.name }, Math.floor(now / 1000));
    if (prev?.unverifiedReported) {
      messages.push(() =>
        say(services, owner?.thread, {
          text: `:white_check_mark: *${esc(target.name)}* answers again: ward verified its containment at ${when(now)} (unverified since ${when(prev.failingSince ?? prev.lastCheckedAt)}).`,
        }),
      );
    }
    const findings = new Map(outcome.findings.map((f) => [f.item, f.differences]));
    let drifting = false;
    for (const item of target.items) {
      const differences = findings.get(item.key) ?? [];
      const reported = next.drifts[item.key];
      if (differences.length > 0) {
        drifting = true;
        const signature = signatureOf(differences);
        if (reported?.signature === signature) continue;
        next.drifts[item.key] = { signature, kind: item.kind, label: item.label, thread: item.thread };
        const text = `:rotating_light: Containment drift on *${esc(target.name)}*: the ${esc(item.label)} (request ${item.requestId}) is not what ward applied.`;
        messages.push(async () => {
          containmentDriftTotal.inc({ kind: item.kind });
          await services.audit
            .record({
              type: 'containment.drift',
              actor: 'ward',
              requestId: item.requestId,
              hosts: [target.name],
              details: { item: item.key, kind: item.kind, differences },
            })
            .catch((err) => services.log.error({ err }, 'could not audit a containment drift'));
          await say(services, item.thread, {
            text: `${text} ${userTextPlain(differences.join('; '), 1000)}`,
            blocks: [
              section(`${text}\n${differences.map((d) => `• ${userText(d, 1500)}`).join('\n')}`),
              context(
                'ward re-applies nothing by itself. *Re-apply* opens a new request through approval, like the original one.',
              ),
              ...reapplyButton(item),
            ],
          });
        });
      } else if (reported) {
        delete next.drifts[item.key];
        messages.push(() => fixed(services, target.name, item.label, reported.thread, 'restored'));
      }
    }
    // Drift reported on something ward no longer holds (released, unblocked, unquarantined): say it is closed.
    for (const [key, reported] of Object.entries(next.drifts)) {
      if (target.items.some((i) => i.key === key)) continue;
      delete next.drifts[key];
      messages.push(() => fixed(services, target.name, reported.label, reported.thread, 'no longer held'));
    }
    next.result = drifting ? 'drift' : 'ok';
    next.detail = drifting
      ? outcome.findings
          .filter((f) => f.differences.length > 0)
          .map((f) => `${f.item}: ${f.differences[0]}`)
          .join('; ')
      : undefined;
  }

  const written = await services.store.compareAndSet(key, raw, JSON.stringify(next));
  if (written) for (const m of messages) await m();
  return { target, outcome, state: written ? next : prev };
}

/**
 * A reported drift is over: `restored`, the containment matches what ward applied again (re-applied, or put back by
 * hand); `no longer held`, ward released, unblocked or unquarantined it.
 */
function fixed(
  services: CommandServices,
  name: string,
  label: string,
  thread: Thread | undefined,
  how: 'restored' | 'no longer held',
): Promise<void> {
  const text =
    how === 'restored'
      ? `:white_check_mark: Containment restored on *${esc(name)}*: the ${esc(label)} matches what ward applied again; the drift is resolved.`
      : `:white_check_mark: Drift resolved on *${esc(name)}*: ward no longer holds the ${esc(label)} (released, unblocked or unquarantined).`;
  return (async () => {
    await services.audit
      .record({
        type: 'containment.drift_resolved',
        actor: 'ward',
        hosts: [name],
        details: { item: label, how },
      })
      .catch((err) => services.log.error({ err }, 'could not audit a resolved drift'));
    await say(services, thread, { text });
  })();
}

/**
 * Closes the books on targets ward no longer holds anything on: a drift or an "unverified" it had reported is said to
 * be over, and the state is dropped (so `/ward hosts` stops showing it).
 */
async function forgetGone(services: CommandServices, current: ReadonlySet<string>): Promise<void> {
  for (const key of await services.store.keys(checkStateKey(''))) {
    const id = key.slice(checkStateKey('').length);
    if (current.has(id)) continue;
    const raw = await services.store.get(key);
    if (!raw || !(await services.store.compareAndSet(key, raw, null))) continue;
    const state = JSON.parse(raw) as CheckState;
    // A host ward no longer holds anything on has no "last verified" any more.
    containmentLastVerifiedSeconds.remove({ host: state.name });
    for (const reported of Object.values(state.drifts ?? {})) {
      await fixed(services, state.name, reported.label, reported.thread, 'no longer held');
    }
  }
}

/** One pass over everything ward holds. Exported for tests and `/ward verify`. */
export async function checkAll(services: CommandServices, only?: (t: Target) => boolean): Promise<Verdict[]> {
  const all = await listTargets(services);
  const targets = only ? all.filter(only) : all;
  const settled = await fanOut(targets, services.config.WARD_SSH_CONCURRENCY, async (t) =>
    recordCheck(services, t, await checkTarget(services, t)),
  );
  if (!only) await forgetGone(services, new Set(all.map((t) => t.id)));
  return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
}

export interface ContainmentChecker {
  stop(): Promise<void>;
}

/** Starts the periodic check (WARD_CONTAINMENT_CHECK_SECONDS; 0: never). Only the lease holder checks. */
export function startContainmentChecker(services: CommandServices): ContainmentChecker | undefined {
  const seconds = services.config.WARD_CONTAINMENT_CHECK_SECONDS;
  if (seconds === 0) return undefined;
  const log = services.log.child({ component: 'containment-checker' });
  const lease = new DrainerLock(
    services.store,
    Math.max(30_000, seconds * 3000),
    () => Date.now(),
    checkerLeaseKey,
  );
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = (async () => {
        if (!(await lease.hold())) return;
        const verdicts = await checkAll(services);
        log.info(
          {
            targets: verdicts.length,
            drift: verdicts.filter((v) => v.state?.result === 'drift').length,
            unverified: verdicts.filter((v) => v.state?.result === 'unverified').length,
          },
          'containment check done',
        );
      })()
        .catch((err) => log.error({ err }, 'containment check failed'))
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, seconds * 1000);
    timer.unref();
  };
  schedule();
  log.info({ intervalSeconds: seconds }, 'containment checker started');
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      await lease.release();
    },
  };
}

/** How `/ward hosts` and `/ward verify` say a target's last check: "ok at …", "DRIFT at …: …", "unverified …". */
export function describeCheck(state: CheckState | undefined, now?: number): string {
  if (!state) return 'not verified yet';
  const verified = state.lastVerifiedAt !== undefined ? when(state.lastVerifiedAt, now) : 'never';
  switch (state.result) {
    case 'ok':
      return `last verified ${verified}: ok`;
    case 'drift':
      return `last verified ${verified}: *DRIFT* ${userText(state.detail ?? '', 300)}`;
    default:
      return `*unverified* (${state.failures} failed check${state.failures === 1 ? '' : 's'} since ${when(state.failingSince ?? state.lastCheckedAt, now)}: ${userText(state.detail ?? '', 300)}); last verified ${verified}`;
  }
}

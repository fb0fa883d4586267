import { createHash } from 'node:crypto';
import type { InventoryHost } from '../config/inventory.js';
import type { PlanStep } from '../core/command.js';
import { code, esc, section } from '../render/blocks.js';
import { userText } from '../render/user-text.js';
import { saveEvidence } from './evidence.js';
import type { HostOutcome } from './execution-helpers.js';
import { forensicsPlanCommand } from './forensics.js';
import { connectHost, describeError, mustRun, type RemoteJob, runRemote, withHost } from './host-session.js';
import {
  desiredContainment,
  hostRulesetKey,
  normalizeNft,
  readHostState,
  writeHostState,
} from './host-state.js';
import {
  applyLockdown,
  cancelWatchdog,
  LOCKDOWN_TABLE,
  listLockdownTable,
  listRuleset,
  startWatchdog,
} from './nft.js';
import { persistPlanStep, syncPersistence } from './persist.js';
import { displayCommand, hostStep } from './remote-command.js';
import { emailAdmins, postInThread } from './report.js';
import { snapshotHost } from './snapshot.js';

/** Every step of a lockdown on one host, with the exact commands, as approvers see it. */
export function lockdownPlanSteps(
  host: InventoryHost,
  managementCidrs: readonly string[],
  hashPaths: readonly string[],
  confirmSeconds: number,
): PlanStep[] {
  const at = `${host.name} (${host.address})`;
  return [
    hostStep({
      id: `${host.name}.forensics`,
      title: `Collect evidence on ${at} before changing anything`,
      host: host.name,
      run: [forensicsPlanCommand(hashPaths)],
    }),
    hostStep({
      id: `${host.name}.save-ruleset`,
      title: `Save the current nftables ruleset of ${host.name} (evidence and ward's store)`,
      host: host.name,
      run: [listRuleset, listLockdownTable],
    }),
    hostStep({
      id: `${host.name}.watchdog`,
      title: `Start a watchdog on ${host.name} that removes the lockdown by itself after ${confirmSeconds} s unless ward confirms`,
      host: host.name,
      run: [startWatchdog(confirmSeconds)],
    }),
    hostStep({
      id: `${host.name}.apply`,
      title: `Apply nftables table ${LOCKDOWN_TABLE} on ${at}: drop all inbound except established flows and SSH (port ${host.port}) from ${managementCidrs.join(', ')}`,
      host: host.name,
      run: [applyLockdown(managementCidrs, host.port)],
    }),
    hostStep({
      id: `${host.name}.verify`,
      title: `Open a NEW SSH connection to ${host.name} and check the table is in place`,
      host: host.name,
      run: [listLockdownTable],
    }),
    hostStep({
      id: `${host.name}.confirm`,
      title: `Cancel the watchdog over the new connection (commit): the lockdown stays`,
      host: host.name,
      run: [cancelWatchdog(undefined)],
    }),
    persistPlanStep(host, 'the lockdown'),
  ];
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/**
 * Lockdown of one host, commit-confirmed as LAB.md verified: evidence first, ruleset saved, watchdog started,
 * table applied, then a NEW connection must succeed before the watchdog is cancelled. If it does not, the host
 * removes the table by itself and ward says so (and checks afterwards over the connection it still has).
 */
export async function lockdownHost(
  job: RemoteJob,
  host: InventoryHost,
  options: { reason?: string | undefined; signal: AbortSignal },
): Promise<HostOutcome> {
  const { services } = job;
  const confirmSeconds = services.config.WARD_LOCKDOWN_CONFIRM_SECONDS;
  const cidrs = services.inventory().managementCidrs;
  const id = (s: string) => `${host.name}.${s}`;
  const steps: Record<string, 'succeeded' | 'failed' | 'skipped'> = {};
  return withHost(job, host, async (session) => {
    const previous = await readHostState(services.store, host.name);
    await snapshotHost(job, session, host, { emailSubjectPrefix: '[ward] lockdown: evidence from' });
    steps[id('forensics')] = 'succeeded';

    const ruleset = await mustRun(session, job, listRuleset);
    const saved = await saveEvidence({
      evidenceDir: services.config.WARD_EVIDENCE_DIR,
      requestId: job.requestId,
      host,
      kind: 'lockdown',
      requestedBy: job.user,
      collectedAt: services.clock.now(),
      artifacts: [
        {
          name: 'ruleset-before',
          command: displayCommand(listRuleset),
          status: 'ok',
          exitCode: ruleset.code,
          durationMs: ruleset.durationMs,
          bytes: ruleset.stdout.length,
          sha256: createHash('sha256').update(ruleset.stdout).digest('hex'),
          truncated: ruleset.truncated,
          content: ruleset.stdout,
        },
      ],
    });
    await services.store.durable(() =>
      services.store.set(hostRulesetKey(host.name), ruleset.stdout.toString('utf8')),
    );
    const wasLocked = (await runRemote(session, job, listLockdownTable)).code === 0;
    steps[id('save-ruleset')] = 'succeeded';

    const watchdog = await mustRun(session, job, startWatchdog(confirmSeconds));
    const pgid = watchdog.stdout.toString('utf8').trim();
    steps[id('watchdog')] = 'succeeded';
    await mustRun(session, job, applyLockdown(cidrs, host.port));
    steps[id('apply')] = 'succeeded';

    let verifyError: unknown;
    let applied = '';
    try {
      const fresh = await connectHost(job, host);
      try {
        applied = (await mustRun(fresh, job, listLockdownTable)).stdout.toString('utf8');
        steps[id('verify')] = 'succeeded';
        await mustRun(fresh, job, cancelWatchdog(pgid));
        steps[id('confirm')] = 'succeeded';
      } finally {
        await fresh.close().catch(() => {});
      }
    } catch (err) {
      verifyError = err;
    }

    if (verifyError !== undefined) {
      steps[id('verify')] = steps[id('verify')] ?? 'failed';
      steps[id('confirm')] = 'failed';
      await postInThread(
        services,
        job,
        `:warning: Lockdown of *${esc(host.name)}* NOT confirmed: ward could not get back in over a new SSH connection (${esc(describeError(verifyError))}). The host removes ward's table by itself within ${confirmSeconds} s; ward will check.`,
      );
      await sleep((confirmSeconds + 3) * 1000, options.signal);
      const check = await runRemote(session, job, listLockdownTable).catch(() => undefined);
      const reverted = check !== undefined && check.code !== 0;
      const outcome = reverted
        ? `${host.name} reverted by itself: ward's lockdown table is gone and the host is reachable as before.`
        : check === undefined
          ? `ward could not check whether ${host.name} reverted (the connection is gone): verify reachability by hand.`
          : `${host.name} still has ward's lockdown table after ${confirmSeconds} s: check it on the console now.`;
      await postInThread(
        services,
        job,
        `${reverted ? ':leftwards_arrow_with_hook:' : ':rotating_light:'} ${esc(outcome)}`,
      );
      await services.audit.record({
        type: 'lockdown.not_confirmed',
        actor: job.user,
        requestId: job.requestId,
        hosts: [host.name],
        outcome: reverted ? 'reverted' : 'unknown',
      });
      return {
        host: host.name,
        ok: false,
        detail: `lockdown not confirmed (no new SSH connection): ${outcome}`,
        steps,
      };
    }

    const since = previous?.since ?? services.clock.now();
    await writeHostState(services.store, host.name, {
      status: 'locked',
      since: wasLocked && previous ? since : services.clock.now(),
      by: wasLocked && previous ? previous.by : job.user,
      requestId: wasLocked && previous ? previous.requestId : job.requestId,
      reason: options.reason,
      managementCidrs: [...cidrs],
      rulesetEvidence: saved.dir,
      thread: job.thread,
      sshPort: host.port,
      appliedTable: normalizeNft(applied),
    });
    // After the commit, never before: a lockdown that reverted must not come back at the next boot.
    let persisted: string;
    let persistError: unknown;
    try {
      persisted = await syncPersistence(session, job, host, await desiredContainment(services.store, host));
      steps[id('persist')] = 'succeeded';
    } catch (err) {
      persistError = err;
      persisted = `NOT persisted for reboots: ${describeError(err)}. The live lockdown is in place; a reboot would open the host.`;
      steps[id('persist')] = 'failed';
    }
    await services.audit.record({
      type: 'host.locked_down',
      actor: job.user,
      requestId: job.requestId,
      hosts: [host.name],
      details: { managementCidrs: cidrs, alreadyLocked: wasLocked, persisted },
    });
    const what = wasLocked
      ? `${host.name} was already locked down; ward's table was re-applied with the current management CIDRs (${cidrs.join(', ')}).`
      : `${host.name} is locked down: inbound traffic is dropped except established flows and SSH from ${cidrs.join(', ')}.`;
    await services.chat
      .postMessage(job.thread.channel, {
        text: `:lock: ${what} Requested by <@${job.user}> (request ${job.requestId}).`,
        blocks: [
          section(
            `:lock: ${esc(what)}\nRequested by <@${job.user}>, request ${code(job.requestId)}${options.reason ? `\n*Reason:* ${userText(options.reason)}` : ''}\nUndo with ${code(`/ward release ${host.name} --reason "…"`)}`,
          ),
        ],
      })
      .catch((err) => services.log.error({ err }, 'could not notify the channel of the lockdown'));
    const email = await emailAdmins(job, {
      subject: `[ward] ${host.name} locked down (${job.requestId})`,
      text: `${what}\nRequested by Slack user ${job.user}, request ${job.requestId}.\n${options.reason ? `Reason: ${options.reason}\n` : ''}The ruleset before the lockdown is saved in ${saved.dir}.\nRelease with: /ward release ${host.name} --reason "…"\n`,
    });
    return {
      host: host.name,
      ok: persistError === undefined,
      detail: `${what} Confirmed over a new SSH connection; the automatic revert was cancelled. ${persisted}${email === 'failed' ? ' (email to admins failed)' : ''}`,
      steps,
    };
  });
}

import type { InventoryHost } from '../config/inventory.js';
import type { PlanStep } from '../core/command.js';
import { code, esc, section } from '../render/blocks.js';
import { clockTime } from '../render/time.js';
import { userText } from '../render/user-text.js';
import type { HostOutcome } from './execution-helpers.js';
import { describeError, mustRun, type RemoteJob, runRemote, withHost } from './host-session.js';
import { clearHostState, desiredContainment, hostRulesetKey, readHostState } from './host-state.js';
import { deleteLockdownTable, listLockdownTable, listRuleset } from './nft.js';
import { persistPlanStep, syncPersistence } from './persist.js';
import { hostStep } from './remote-command.js';
import { emailAdmins } from './report.js';

export function releasePlanSteps(host: InventoryHost): PlanStep[] {
  return [
    hostStep({
      id: `${host.name}.check`,
      title: `Check whether ${host.name} (${host.address}) has ward's lockdown table`,
      host: host.name,
      run: [listLockdownTable],
    }),
    hostStep({
      id: `${host.name}.remove`,
      title: `Remove ward's lockdown table from ${host.name} (only if present)`,
      host: host.name,
      run: [deleteLockdownTable],
    }),
    hostStep({
      id: `${host.name}.compare`,
      title: `Compare ${host.name}'s ruleset with the one saved before the lockdown`,
      host: host.name,
      run: [listRuleset],
    }),
    persistPlanStep(host, 'the release'),
  ];
}

/** A ruleset without ward's own tables (`table <family> ward_…` blocks), for comparing before and after. */
export function withoutWardTables(ruleset: string): string {
  const out: string[] = [];
  let skipping = false;
  for (const line of ruleset.split('\n')) {
    if (!skipping && /^table \S+ ward_[a-z_]+ \{$/.test(line)) {
      skipping = true;
      continue;
    }
    if (skipping) {
      if (line === '}') skipping = false;
      continue;
    }
    out.push(line);
  }
  return out.join('\n').trim();
}

/**
 * Lifts a lockdown. ward's lockdown only ever adds its own table, so deleting it restores the ruleset saved
 * before; ward then compares and says whether the host's other rules still match what was saved (they differ
 * only if someone changed them meanwhile, which ward reports rather than overwrites).
 */
export async function releaseHost(
  job: RemoteJob,
  host: InventoryHost,
  options: { reason?: string | undefined },
): Promise<HostOutcome> {
  const { services } = job;
  const id = (s: string) => `${host.name}.${s}`;
  return withHost(job, host, async (session) => {
    const state = await readHostState(services.store, host.name);
    const present = (await runRemote(session, job, listLockdownTable)).code === 0;
    // The boot-time copy goes too (or keeps only ward's blocks): a released host must not lock down at its next boot.
    const unpersist = async (): Promise<{ text: string; ok: boolean }> => {
      try {
        return {
          text: await syncPersistence(session, job, host, await desiredContainment(services.store, host)),
          ok: true,
        };
      } catch (err) {
        return {
          text: `Removing the boot-time lockdown FAILED (${describeError(err)}): the host may lock down again at its next boot.`,
          ok: false,
        };
      }
    };
    if (!present) {
      await clearHostState(services.store, host.name);
      const persisted = await unpersist();
      return {
        host: host.name,
        ok: persisted.ok,
        detail: `${host.name} was not locked down (ward's table is absent); nothing changed.${state ? ' Its recorded lockdown state was cleared.' : ''} ${persisted.text}`,
        steps: {
          [id('check')]: 'succeeded',
          [id('remove')]: 'skipped',
          [id('compare')]: 'skipped',
          [id('persist')]: persisted.ok ? 'succeeded' : 'failed',
        },
      };
    }
    await mustRun(session, job, deleteLockdownTable);
    const after = await mustRun(session, job, listRuleset);
    const saved = await services.store.get(hostRulesetKey(host.name));
    const same =
      saved === null
        ? undefined
        : withoutWardTables(saved) === withoutWardTables(after.stdout.toString('utf8'));
    await clearHostState(services.store, host.name);
    const persisted = await unpersist();
    await services.audit.record({
      type: 'host.released',
      actor: job.user,
      requestId: job.requestId,
      hosts: [host.name],
      details: { rulesetMatchesSaved: same ?? null, persisted: persisted.text },
    });
    const comparison =
      same === undefined
        ? 'ward has no saved ruleset to compare with.'
        : same
          ? 'Its ruleset is back to the one saved before the lockdown.'
          : 'Its other rules differ from those saved before the lockdown (changed meanwhile by someone else); ward left them as they are.';
    const what = `${host.name} is released: ward's lockdown table was removed${state ? ` (locked since ${clockTime(state.since, services.clock.now())} by <@${state.by}>)` : ''}. ${comparison}`;
    await services.chat
      .postMessage(job.thread.channel, {
        text: `:unlock: ${what}`,
        blocks: [
          section(
            `:unlock: ${esc(what).replace(/&lt;@(U[A-Z0-9]+)&gt;/g, '<@$1>')}\nReleased by <@${job.user}>, request ${code(job.requestId)}${options.reason ? `\n*Reason:* ${userText(options.reason)}` : ''}`,
          ),
        ],
      })
      .catch((err) => services.log.error({ err }, 'could not notify the channel of the release'));
    await emailAdmins(job, {
      subject: `[ward] ${host.name} released (${job.requestId})`,
      text: `${what.replace(/<@(U[A-Z0-9]+)>/g, '$1')}\nReleased by Slack user ${job.user}, request ${job.requestId}.\n${options.reason ? `Reason: ${options.reason}\n` : ''}`,
    });
    return {
      host: host.name,
      ok: persisted.ok,
      detail: `${what} ${persisted.text}`,
      steps: { [id('persist')]: persisted.ok ? 'succeeded' : 'failed' },
    };
  });
}

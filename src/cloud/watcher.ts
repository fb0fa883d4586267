import { type CloudProviderName, cloudProvider } from '../adapters/cloud-providers.js';
import type { CommandContext, Invocation, Replier } from '../core/command.js';
import type { Services } from '../core/services.js';
import { ConfigError, WardError } from '../errors.js';
import { newRequestId } from '../log.js';
import type { ChatMessage } from '../ports/chat.js';
import type { CloudProvider, InstanceState } from '../ports/cloud-isolation.js';
import { IR_TAG, isIsolated, REQUEST_TAG_KEY } from './model.js';

/** The marker that says "a request was opened for this tagging"; it goes when the tag goes. */
export function watchKey(region: string, instanceId: string): string {
  return `ward:cloud:watch:${region}:${instanceId}`;
}

export interface CloudWatcher {
  /** Stops the timer and waits for a running pass to finish. */
  stop(): Promise<void>;
}

/**
 * Tag-driven quarantine: every WARD_AWS_WATCH_INTERVAL_SECONDS, lists the instances tagged SecurityStatus=IR in every
 * region of the inventory's cloud hosts, per provider (or, with no cloud host, aws's default region) and opens one quarantine request per instance
 * that is not yet isolated, in WARD_AWS_WATCH_CHANNEL, through the normal gate (approvals, or direct execution
 * where policy says approvals: 0). An instance ward itself tagged (it carries ward:request) is left alone.
 *
 * "Once per tagging": a store key per instance is set (first writer wins, so two replicas cannot both open one) and
 * deleted when a pass no longer sees the tag, so a later re-tagging opens a new request.
 */
export function startCloudWatcher(
  services: Services,
  options: { botUserId: () => Promise<string> },
): CloudWatcher {
  const config = services.config;
  const channel = config.WARD_AWS_WATCH_CHANNEL;
  if (channel === undefined) {
    throw new ConfigError('ward configuration (environment)', [
      'WARD_AWS_WATCH_CHANNEL: is required when WARD_AWS_WATCH=1 (the channel id where tag-driven quarantine requests open)',
    ]);
  }
  // The watcher's requests come from ward's bot user, which has no second factor to give: a policy that asks the
  // requester for one would leave every request it opens stuck. Approvers' MFA still applies.
  const policy = services.policy.policyFor(services.commands.get('quarantine'));
  if (policy.mfa === 'requester' || policy.mfa === 'both') {
    throw new ConfigError('policy file (with WARD_AWS_WATCH=1)', [
      `commands.quarantine.mfa: is "${policy.mfa}", but requests opened by the tag watcher come from ward's bot, which cannot give a second factor: set mfa: approvers (or none) for quarantine, or turn the watcher off`,
    ]);
  }
  const log = services.log.child({ component: 'cloud-watcher' });
  const intervalMs = config.WARD_AWS_WATCH_INTERVAL_SECONDS * 1000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = pass(services, channel, options.botUserId, log)
        .catch((err) => log.error({ err }, 'cloud watcher pass failed'))
        .finally(() => {
          running = undefined;
          schedule(intervalMs);
        });
    }, delayMs);
    timer.unref();
  };
  schedule(0);
  log.info({ intervalSeconds: config.WARD_AWS_WATCH_INTERVAL_SECONDS, channel }, 'cloud tag watcher started');

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

/** Where to look, per provider: the regions of the inventory's cloud hosts. */
function regionsToWatch(services: Services): Array<{ provider: CloudProvider; region: string | undefined }> {
  const regions = new Map<CloudProviderName, Set<string>>();
  for (const h of services.inventory().hosts.values()) {
    if (!h.cloud) continue;
    const set = regions.get(h.cloud.provider) ?? new Set<string>();
    set.add(h.cloud.region);
    regions.set(h.cloud.provider, set);
  }
  // No cloud host in the inventory: aws in the SDK's own region (AWS_REGION or the profile's), as before there
  // was a provider field.
  if (regions.size === 0) return [{ provider: cloudProvider('aws'), region: undefined }];
  return [...regions.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([name, set]) => [...set].sort().map((region) => ({ provider: cloudProvider(name), region })));
}

/** One pass over every region. Exported for tests that drive a pass without waiting for the timer. */
export async function pass(
  services: Services,
  channel: string,
  botUserId: () => Promise<string>,
  log: Services['log'],
): Promise<void> {
  let opened = 0;
  let seen = 0;
  for (const { provider, region: wanted } of regionsToWatch(services)) {
    const cloud = await provider.load(services.config);
    let region: string | undefined;
    let tagged: InstanceState[];
    try {
      ({ region, instances: tagged } = await cloud.listTagged(wanted, IR_TAG));
    } catch (err) {
      // A region that cannot be listed keeps its markers: forgetting them would reopen requests next time.
      log.error(
        { err, provider: provider.name, region: wanted },
        'cloud watcher: could not list tagged instances',
      );
      continue;
    }
    if (region === undefined) {
      log.error('cloud watcher: no region to watch (no cloud host in the inventory and no AWS_REGION)');
      continue;
    }
    seen += tagged.length;
    const stillTagged = new Set(tagged.map((i) => watchKey(region, i.instanceId)));
    for (const key of await services.store.keys(watchKey(region, ''))) {
      if (!stillTagged.has(key)) {
        await services.store.del(key);
        log.info({ key }, 'cloud watcher: tag gone, marker cleared');
      }
    }
    for (const instance of tagged) {
      if (instance.tags[REQUEST_TAG_KEY] !== undefined) continue; // ward is already on it (or was, and reported)
      if (isIsolated(provider, instance)) continue;
      const requestId = newRequestId();
      const first = await services.store.setIfAbsent(watchKey(region, instance.instanceId), requestId);
      if (!first) continue;
      opened++;
      await openRequest(services, channel, botUserId, log, instance, region, requestId);
    }
  }
  log.info({ seen, opened }, 'cloud watcher pass done');
}

async function openRequest(
  services: Services,
  channel: string,
  botUserId: () => Promise<string>,
  log: Services['log'],
  instance: InstanceState,
  region: string,
  requestId: string,
): Promise<void> {
  const command = services.commands.get('quarantine');
  const host = [...services.inventory().hosts.values()].find(
    (h) => h.cloud?.instanceId === instance.instanceId,
  );
  const reason = `Instance ${instance.instanceId} tagged ${IR_TAG.key}=${IR_TAG.value} by someone outside ward (found by ward's tag watcher; CloudTrail CreateTags events say who)`;
  const reply = channelReplier(services, channel);
  try {
    const user = await botUserId();
    const invocation: Invocation = {
      user,
      channel,
      text: `quarantine ${instance.instanceId} --region ${region} --snapshot`,
      requestId,
    };
    const args = command.args.parse({ target: host?.name ?? instance.instanceId, region, snapshot: true });
    const ctx: CommandContext<unknown> = {
      args,
      flags: { reason, dryRun: false, breakGlass: false },
      invocation,
      reply,
      services,
    };
    // No authorize(): the bot holds no role. Turning the watcher on (WARD_AWS_WATCH=1) is the operator's decision;
    // what the request then needs (approvals, MFA) is the quarantine policy, enforced by the gate.
    const policy = services.policy.policyFor(command);
    const plan = await command.plan!(ctx);
    await services.audit.record({
      type: 'cloud.watch.opened',
      actor: user,
      command: command.name,
      hosts: plan.hosts.map((h) => h.name),
      // The gate's approval.requested entry carries the same id as details.slackRequestId.
      details: { instanceId: instance.instanceId, region, invocationId: requestId },
    });
    log.info(
      { instanceId: instance.instanceId, region, requestId },
      'cloud watcher: quarantine request opened',
    );
    await services.gate.submit({ command, ctx, plan, policy });
  } catch (err) {
    const message =
      err instanceof WardError
        ? err.userMessage
        : "an unexpected error (see the log of ward's cloud watcher)";
    log.error(
      { err, instanceId: instance.instanceId, region },
      'cloud watcher: could not open a quarantine request',
    );
    await reply
      .ephemeral({
        text: `:warning: ${instance.instanceId} (${region}) is tagged ${IR_TAG.key}=${IR_TAG.value} and not isolated, but ward could not open a quarantine request: ${message}`,
      })
      .catch(() => {});
  }
}

/** The watcher has no person to whisper to: everything it says goes to its channel. */
function channelReplier(services: Services, channel: string): Replier {
  return {
    async ephemeral(message: ChatMessage) {
      await services.chat.postMessage(channel, message);
    },
    async inChannel(message: ChatMessage, options: { threadTs?: string } = {}) {
      return services.chat.postMessage(
        channel,
        message,
        options.threadTs ? { threadTs: options.threadTs } : {},
      );
    },
  };
}

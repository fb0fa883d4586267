import { type CloudProviderName, cloudProvider } from '../adapters/cloud-providers.js';
import { newCorrelationId } from '../core/ids.js';
import { openRequest, wardMayNotAsk } from '../core/requests/open-request.js';
import type { Services } from '../core/services.js';
import { ConfigError } from '../errors.js';
import type { CloudProvider, InstanceState } from '../ports/cloud-isolation.js';
import { IR_TAG, isIsolated, REQUEST_TAG_KEY } from './model.js';

/** The watcher's name, as ward's requests on its behalf record it. */
const WATCHER = 'cloud-tags';

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
export function startCloudWatcher(services: Services): CloudWatcher {
  const config = services.config;
  const channel = config.WARD_AWS_WATCH_CHANNEL;
  if (channel === undefined) {
    throw new ConfigError('ward configuration (environment)', [
      'WARD_AWS_WATCH_CHANNEL: is required when WARD_AWS_WATCH=1 (the channel id where tag-driven quarantine requests open)',
    ]);
  }
  // The watcher's requests come from ward itself, which the pipeline lets ask only for `auto: true` commands that
  // need no requester factor (ward has none to give). A watcher that could never open a request does not start.
  const policy = services.policy.policyFor(services.commands.get('quarantine'));
  const refusal = wardMayNotAsk('quarantine', policy);
  if (refusal !== undefined) {
    throw new ConfigError('policy file (with WARD_AWS_WATCH=1)', [
      `commands.quarantine: ${refusal.replaceAll('`', '')} Requests opened by the tag watcher come from ward itself: set auto: true and mfa: approvers (or none) for quarantine, or turn the watcher off`,
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
      running = pass(services, channel, log)
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
export async function pass(services: Services, channel: string, log: Services['log']): Promise<void> {
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
      const correlationId = newCorrelationId();
      const first = await services.store.setIfAbsent(watchKey(region, instance.instanceId), correlationId);
      if (!first) continue;
      opened++;
      await askQuarantine(services, channel, instance, region, correlationId);
    }
  }
  log.info({ seen, opened }, 'cloud watcher pass done');
}

/** Asks for the quarantine of one tagged instance, as ward itself on behalf of the tag watcher. */
async function askQuarantine(
  services: Services,
  channel: string,
  instance: InstanceState,
  region: string,
  correlationId: string,
): Promise<void> {
  const host = [...services.inventory().hosts.values()].find(
    (h) => h.cloud?.instanceId === instance.instanceId,
  );
  const target = host?.name ?? instance.instanceId;
  log(services).info(
    { instanceId: instance.instanceId, region, requestId: correlationId },
    'cloud watcher: asking for a quarantine',
  );
  await openRequest(services, {
    origin: { kind: 'ward', on: { watcher: WATCHER } },
    ask: {
      command: 'quarantine',
      args: { target, region, snapshot: true },
      reason: `Instance ${instance.instanceId} tagged ${IR_TAG.key}=${IR_TAG.value} by someone outside ward (found by ward's tag watcher; CloudTrail CreateTags events say who)`,
      text: `quarantine ${instance.instanceId} --region ${region} --snapshot`,
    },
    replyTo: { channel },
    correlationId,
    automation: {
      type: 'cloud.watch.opened',
      hosts: [target],
      // The approval.requested entry carries the same id as details.slackRequestId.
      details: { instanceId: instance.instanceId, region, invocationId: correlationId },
      failurePrefix: `${instance.instanceId} (${region}) is tagged ${IR_TAG.key}=${IR_TAG.value} and not isolated, but ward could not open a quarantine request`,
    },
  });
}

function log(services: Services) {
  return services.log.child({ component: 'cloud-watcher' });
}

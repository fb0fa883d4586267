import type { Config } from '../config/env.js';
import { fileSha256 } from '../config/file-sha256.js';
import { newCorrelationId } from '../core/ids.js';
import { openRequest } from '../core/requests/open-request.js';
import type { Services } from '../core/services.js';
import { AutomationRefusedError } from '../errors.js';
import type { HttpRoutes } from '../http/server.js';
import { incidentSeverityFor } from '../incidents/from-alert.js';
import { TITLE_MAX } from '../incidents/incident.js';
import type { AlertsControl } from '../ports/alerts-control.js';
import { clockTime } from '../render/time.js';
import type { Alert, AlertSource } from './alert.js';
import { matchInventoryHost } from './host-match.js';
import { registerAlertRoutes } from './http.js';
import { AlertIntakeLimits } from './intake-limits.js';
import { ChannelPacer } from './pacer.js';
import { type AlertOutcome, AlertRelay, type AutoRunRequest } from './relay.js';
import { AlertRules, ruleChannels, summarizeRules } from './rules-holder.js';
import { fetchSnsCertificate, visitSubscribeUrl } from './sns-fetch.js';
import { enabledAlertSources } from './sources/registry.js';
import { alertReason } from './suggest.js';

export interface InstalledAlerts {
  relay: AlertRelay;
  control: AlertsControl;
  start(): void;
  stop(): Promise<void>;
}

export interface InstallAlertsOptions {
  config: Config;
  services: Services;
  routes: HttpRoutes;
  /** Counts what became of each alert (`ward_alerts_total{source,outcome}`). */
  onOutcome: (source: AlertSource, outcome: AlertOutcome) => void;
}

/**
 * Wires the alert relay into ward: rules (WARD_RULES, or the built-in rule to WARD_ALERT_DEFAULT_CHANNEL), the
 * webhook routes, the relay worker, the suggested-action buttons and auto-run. Returns undefined (and logs why)
 * when alerts are off: neither WARD_RULES nor WARD_ALERT_DEFAULT_CHANNEL is set. Throws ConfigError (ward does not
 * start) when WARD_RULES is invalid.
 */
export function installAlerts(o: InstallAlertsOptions): InstalledAlerts | undefined {
  const { config, services, routes } = o;
  const log = services.log.child({ component: 'alerts' });
  if (config.WARD_ALERT_DEFAULT_CHANNEL === undefined) {
    // env.ts refuses WARD_RULES without a default channel, so this is "neither is set".
    const tokens = enabledAlertSources(config).length > 0;
    log[tokens ? 'warn' : 'info'](
      'alert relay off: set WARD_ALERT_DEFAULT_CHANNEL (and optionally WARD_RULES) to accept alerts on /alerts/*',
    );
    return undefined;
  }

  const rules = new AlertRules(
    config.WARD_RULES,
    config.WARD_ALERT_DEFAULT_CHANNEL,
    services.commands.all().map((c) => c.name),
  );
  const relay = new AlertRelay({
    store: services.store,
    chat: services.chat,
    clock: services.clock,
    pacer: new ChannelPacer({ clock: services.clock }),
    log,
    audit: services.audit,
    rules: () => rules.current(),
    fallbackChannel: rules.fallbackChannel,
    resolveHost: (hint) => matchInventoryHost(services.inventory(), hint),
    onAuto: (request) => autoRun(services, request),
    onIncident: (request) => autoOpenIncident(services, request),
    onOutcome: o.onOutcome,
    queueMax: config.WARD_ALERT_QUEUE_MAX,
  });
  registerAlertRoutes(routes, {
    config,
    relay,
    store: services.store,
    log,
    clock: services.clock,
    fetchCert: fetchSnsCertificate,
    confirmSubscription: visitSubscribeUrl,
    onOutcome: o.onOutcome,
    limits: new AlertIntakeLimits(services.store, {
      maxPerRequest: config.WARD_ALERT_MAX_PER_REQUEST,
      ratePerSourcePerMinute: config.WARD_ALERT_RATE_PER_SOURCE,
      ratePerHostPerMinute: config.WARD_ALERT_RATE_PER_HOST,
    }),
  });

  const control: AlertsControl = {
    rules,
    summary: (format) => summarizeRules(rules.current(), format),
    channels: () => ruleChannels(rules.current()),
    async reloadRules(actor) {
      const result = rules.reload();
      await services.audit
        .record({
          type: 'config.reload',
          ...(actor.user === undefined ? {} : { actor: actor.user }),
          outcome: result.ok ? 'reloaded' : 'kept_previous',
          details: {
            what: 'alert rules',
            path: rules.path ?? null,
            ...(result.ok ? { sha256: fileSha256(rules.path) } : {}),
            trigger: actor.trigger,
            rules: (result.ok ? result.ruleSet : result.kept).rules.length,
            ...(result.ok ? {} : { problems: result.problems }),
          },
        })
        .catch((err) => log.warn({ err }, 'could not audit a rules reload'));
      if (result.ok)
        log.info({ rules: result.ruleSet.rules.length, trigger: actor.trigger }, 'alert rules reloaded');
      else
        log.warn(
          { problems: result.problems, trigger: actor.trigger },
          'alert rules not reloaded; kept the rules in use',
        );
      return result;
    },
  };
  log.info(
    { rules: rules.current().rules.length, source: rules.current().source, fallback: rules.fallbackChannel },
    'alert relay on',
  );
  return {
    relay,
    control,
    start: () => relay.start(),
    stop: () => relay.stop(),
  };
}

// ---- incident: auto ---------------------------------------------------------------------------------------------

/**
 * A rule's `incident: auto`: ward itself (the bot user) opens an incident for a new alert. The same fingerprint
 * never opens two: a repeat finds the first one. What happened is said in the alert's thread.
 */
export async function autoOpenIncident(
  services: Services,
  request: { alert: Alert; channel: string; ts: string; firstSeen: string; host?: string | undefined },
): Promise<void> {
  const user = await services.wardUserId();
  const firstSeenMs = Date.parse(request.firstSeen);
  const outcome = await services.incidents.openFromAlert({
    requester: user,
    title: request.alert.title.slice(0, TITLE_MAX),
    severity: incidentSeverityFor(request.alert.severity),
    originChannel: request.channel,
    alert: {
      fingerprint: request.alert.fingerprint,
      title: request.alert.title,
      severity: request.alert.severity,
      source: request.alert.source,
      host: request.host ?? request.alert.host,
      channel: request.channel,
      ts: request.ts,
      firstSeenMs: Number.isFinite(firstSeenMs) ? firstSeenMs : undefined,
    },
  });
  if (!outcome.complete || outcome.existing) {
    await services.incidents.reportOpen(outcome, {
      ephemeral: (message) =>
        services.chat.postMessage(request.channel, message, { threadTs: request.ts }).then(() => undefined),
    });
  }
}

// ---- auto-run ---------------------------------------------------------------------------------------------------

/**
 * A rule's `auto` command, asked for by ward itself on behalf of the rule, on a new alert whose host is in the
 * inventory. The request pipeline decides (src/core/requests/open-request.ts): only commands whose effective policy
 * says `auto: true` and needs no requester factor; the approval count still applies, so a command whose policy
 * demands approvals becomes a pending request instead of running. Replies thread under the alert.
 */
export async function autoRun(services: Services, request: AutoRunRequest): Promise<void> {
  const correlationId = newCorrelationId();
  await openRequest(services, {
    origin: { kind: 'ward', on: { rule: request.rule } },
    ask: {
      text: `${request.command} ${request.host} --reason "${alertReason(request.alert.title, request.alert.fingerprint)}"`,
    },
    replyTo: { channel: request.channel, threadTs: request.ts },
    correlationId,
    automation: {
      type: 'alert.auto_run',
      hosts: [request.host],
      details: { fingerprint: request.alert.fingerprint, rule: request.rule },
      // Claimed only once ward may ask for the command, so a refused one never holds the host's slot.
      throttle: async () => {
        const earlier = await claimAutoRun(services, request.command, request.host, {
          requestId: correlationId,
          fingerprint: request.alert.fingerprint,
        });
        return earlier === undefined ? undefined : suppression(services, request, earlier);
      },
    },
  });
}

/** `ward:auto-run:<host>:<command>`: the last auto-run of a command on a host, kept for WARD_AUTO_RUN_INTERVAL_SECONDS. */
export const autoRunKey = (host: string, command: string): string => `ward:auto-run:${host}:${command}`;

interface AutoRunClaim {
  requestId: string;
  fingerprint: string;
  /** Epoch ms. */
  at: number;
}

/**
 * Claims the host's auto-run slot for this command (SET NX with the interval as expiry, so replicas agree and the
 * slot frees itself). Returns the earlier run that holds the slot, or undefined when this run may go ahead.
 */
async function claimAutoRun(
  services: Services,
  command: string,
  host: string,
  run: { requestId: string; fingerprint: string },
): Promise<AutoRunClaim | undefined> {
  const intervalSeconds = services.config.WARD_AUTO_RUN_INTERVAL_SECONDS;
  if (intervalSeconds === 0) return undefined;
  const key = autoRunKey(host, command);
  const claim: AutoRunClaim = { ...run, at: services.clock.now() };
  if (await services.store.setIfAbsent(key, JSON.stringify(claim), intervalSeconds * 1000)) return undefined;
  const current = await services.store.get(key);
  try {
    return current === null ? { requestId: '?', fingerprint: '?', at: Number.NaN } : JSON.parse(current);
  } catch {
    return { requestId: '?', fingerprint: '?', at: Number.NaN };
  }
}

/** An auto-run inside the interval: said in the alert's thread and audited as `suppressed`, never silent. */
function suppression(
  services: Services,
  request: AutoRunRequest,
  earlier: AutoRunClaim,
): AutomationRefusedError {
  const intervalSeconds = services.config.WARD_AUTO_RUN_INTERVAL_SECONDS;
  const when = Number.isFinite(earlier.at) ? ` at ${clockTime(earlier.at, services.clock.now())}` : '';
  const why = `\`${request.command}\` already ran automatically on ${request.host}${when} (request ${earlier.requestId}); ward auto-runs a command on a host at most once every ${intervalSeconds} s (WARD_AUTO_RUN_INTERVAL_SECONDS).`;
  services.log.info(
    { earlier: earlier.requestId, fingerprint: request.alert.fingerprint, command: request.command },
    'auto-run suppressed',
  );
  return new AutomationRefusedError(why, {
    outcome: 'suppressed',
    details: { earlierRequestId: earlier.requestId, intervalSeconds },
    hint: `Run \`/ward ${request.command} ${request.host}\` for a fresh one.`,
  });
}

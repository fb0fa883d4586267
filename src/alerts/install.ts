import type { Config } from '../config/env.js';
import { fileSha256 } from '../config/file-sha256.js';
import { newCorrelationId } from '../core/ids.js';
import { openRequest } from '../core/requests/open-request.js';
import type { Services } from '../core/services.js';
import type { HttpRoutes } from '../http/server.js';
import type { AlertsControl } from '../ports/alerts-control.js';
import type { AlertSource } from './alert.js';
import { matchInventoryHost } from './host-match.js';
import { registerAlertRoutes } from './http.js';
import { ChannelPacer } from './pacer.js';
import { type AlertOutcome, AlertRelay, type AutoRunRequest } from './relay.js';
import { AlertRules, summarizeRules } from './rules-holder.js';
import { fetchSnsCertificate, visitSubscribeUrl } from './sns-fetch.js';
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
    const tokens = [
      config.WARD_ALERT_TOKEN_ALERTMANAGER,
      config.WARD_ALERT_TOKEN_GRAFANA,
      config.WARD_ALERT_TOKEN_FALCO,
      config.WARD_ALERT_TOKEN_GENERIC,
      config.WARD_ALERT_HMAC_SECRET_GENERIC,
      config.WARD_ALERT_SNS_TOPICS,
    ].some((t) => t !== undefined);
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
    onOutcome: o.onOutcome,
  });
  registerAlertRoutes(routes, {
    config,
    relay,
    log,
    clock: services.clock,
    fetchCert: fetchSnsCertificate,
    confirmSubscription: visitSubscribeUrl,
    onOutcome: o.onOutcome,
  });

  const control: AlertsControl = {
    rules,
    summary: () => summarizeRules(rules.current()),
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

// ---- auto-run ---------------------------------------------------------------------------------------------------

/**
 * A rule's `auto` command, asked for by ward itself on behalf of the rule, on a new alert whose host is in the
 * inventory. The request pipeline decides (src/core/requests/open-request.ts): only commands whose effective policy
 * says `auto: true` and needs no requester factor; the approval count still applies, so a command whose policy
 * demands approvals becomes a pending request instead of running. Replies thread under the alert.
 */
export async function autoRun(services: Services, request: AutoRunRequest): Promise<void> {
  await openRequest(services, {
    origin: { kind: 'ward', on: { rule: request.rule } },
    ask: {
      text: `${request.command} ${request.host} --reason "${alertReason(request.alert.title, request.alert.fingerprint)}"`,
    },
    replyTo: { channel: request.channel, threadTs: request.ts },
    correlationId: newCorrelationId(),
    automation: {
      type: 'alert.auto_run',
      hosts: [request.host],
      details: { fingerprint: request.alert.fingerprint, rule: request.rule },
    },
  });
}

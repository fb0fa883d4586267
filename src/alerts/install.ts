import type { Config } from '../config/env.js';
import { fileSha256 } from '../config/file-sha256.js';
import { HOST_NAME_PATTERN } from '../config/inventory.js';
import type { CommandContext, Invocation, Replier } from '../core/command.js';
import { answerError, dispatchCommand, parseCommandText } from '../core/dispatcher.js';
import type { Services } from '../core/services.js';
import { UserInputError } from '../errors.js';
import type { HttpRoutes } from '../http/server.js';
import { newRequestId } from '../log.js';
import { alertsTotal } from '../metrics.js';
import type { ChatMessage } from '../ports/chat.js';
import { replierFor } from '../slack/app.js';
import type { AlertSource } from './alert.js';
import { matchInventoryHost } from './host-match.js';
import { registerAlertRoutes } from './http.js';
import { AlertIntakeLimits } from './intake-limits.js';
import { ChannelPacer } from './pacer.js';
import { type AlertOutcome, AlertRelay, type AutoRunRequest, messageKey } from './relay.js';
import type { SuggestButtonValue } from './render.js';
import { AlertRules, type ReloadResult, summarizeRules } from './rules-holder.js';
import { fetchSnsCertificate, visitSubscribeUrl } from './sns-fetch.js';

/** What the rest of ward (the `rules` command, SIGHUP) may do with the alert relay. */
export interface AlertsControl {
  rules: AlertRules;
  /** Reloads WARD_RULES, keeping the rules in use when the file is invalid; audited as `config.reload`. */
  reloadRules(actor: { user?: string; trigger: 'command' | 'SIGHUP' }): Promise<ReloadResult>;
  /** The rules in use, one line each. */
  summary(): string[];
}

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
  /** ward's own Slack user id (auth.test), the requester of auto-run commands. */
  botUserId: () => Promise<string>;
}

/** Counts what became of each alert in `ward_alerts_total{source,outcome}` (relay outcomes and webhook refusals). */
export function countAlertOutcome(source: AlertSource, outcome: AlertOutcome): void {
  alertsTotal.inc({ source, outcome });
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
    onAuto: (request) => autoRun(services, o.botUserId, request),
    onOutcome: countAlertOutcome,
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
    onOutcome: countAlertOutcome,
    limits: new AlertIntakeLimits(services.store, {
      maxPerRequest: config.WARD_ALERT_MAX_PER_REQUEST,
      ratePerSourcePerMinute: config.WARD_ALERT_RATE_PER_SOURCE,
      ratePerHostPerMinute: config.WARD_ALERT_RATE_PER_HOST,
    }),
  });
  registerSuggestButtons(services, relay);

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
  services.alerts = control;
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

// ---- suggested-action buttons -----------------------------------------------------------------------------------

/** Characters that could end or escape the quoted reason (`"`, `\`, and the typographic quotes folded to `"`). */
const unsafeInReason = /["\\\u201c\u201d\u201e\u0000-\u001f\u007f-\u009f]/g;

/** `alert <title> (<fingerprint>)`, safe inside `--reason "…"` whatever the alert said, and under 500 characters. */
export function alertReason(title: string, fingerprint: string): string {
  const clean = (s: string, max: number) => {
    const t = s.replace(unsafeInReason, ' ').replace(/\s+/g, ' ').trim();
    return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
  };
  return `alert ${clean(title, 300)} (${clean(fingerprint, 100)})`;
}

/** The alert a suggested-action button stands for: what the click handler needs to open the request. */
interface ClickedSuggestion {
  command: string;
  host: string;
  fingerprint: string;
  title: string;
  /** The alert's message record (absent on buttons posted before references existed). */
  ref?: string;
}

const REF_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Reads a suggested-action button: `{command, host, ref}`, the alert's fingerprint and title looked up by `ref` in
 * its stored message record (which must still offer that command for that host). Buttons posted before references
 * existed carried `{command, host, fingerprint, title}` inline; those still work.
 */
async function resolveButton(
  services: Services,
  actionId: string,
  value: string,
): Promise<ClickedSuggestion> {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    v = undefined;
  }
  const b = v as Partial<SuggestButtonValue & { fingerprint: unknown; title: unknown }> | undefined;
  const malformed = () => new UserInputError('That alert button is malformed, so nothing was requested.');
  if (
    typeof b !== 'object' ||
    b === null ||
    typeof b.command !== 'string' ||
    actionId !== `alert.suggest.${b.command}` ||
    typeof b.host !== 'string' ||
    !HOST_NAME_PATTERN.test(b.host)
  ) {
    throw malformed();
  }
  if (b.ref === undefined && typeof b.fingerprint === 'string' && typeof b.title === 'string') {
    if (b.fingerprint.length === 0) throw malformed();
    return { command: b.command, host: b.host, fingerprint: b.fingerprint, title: b.title };
  }
  if (typeof b.ref !== 'string' || !REF_PATTERN.test(b.ref)) throw malformed();
  const raw = await services.store.get(messageKey(b.ref));
  const record = (raw === null ? null : JSON.parse(raw)) as {
    kind?: string;
    alert?: { fingerprint?: unknown; title?: unknown };
    route?: { suggest?: unknown };
    state?: { inventoryHost?: unknown };
  } | null;
  if (record === null) {
    throw new UserInputError(
      `ward no longer keeps this alert (alerts are kept for their rule's dedupe window plus a day), so nothing was requested. Type \`/ward ${b.command} ${b.host} --reason "…"\` instead.`,
    );
  }
  const { alert, route, state } = record;
  if (
    record.kind !== 'message' ||
    typeof alert?.fingerprint !== 'string' ||
    typeof alert.title !== 'string' ||
    !Array.isArray(route?.suggest) ||
    !route.suggest.includes(b.command) ||
    state?.inventoryHost !== b.host
  ) {
    throw malformed();
  }
  return { command: b.command, host: b.host, fingerprint: alert.fingerprint, title: alert.title, ref: b.ref };
}

/**
 * A click on a suggested action (`alert.suggest.<command>`) opens a ward request as the person who clicked,
 * exactly as if they had typed `/ward <command> <host> --reason "alert <title> (<fingerprint>)"`: their roles, the
 * command's approvals and MFA apply unchanged. Replies thread under the alert message.
 */
export function registerSuggestButtons(services: Services, relay?: Pick<AlertRelay, 'noteRequest'>): void {
  services.interactions.onAction('alert.suggest.', async (event) => {
    const button = await resolveButton(services, event.actionId, event.value);
    const invocation: Invocation = {
      user: event.user,
      channel: event.channel ?? '',
      text: `${button.command} ${button.host} --reason "${alertReason(button.title, button.fingerprint)}"`,
      triggerId: event.triggerId,
      responseUrl: event.responseUrl,
      threadTs: event.messageTs,
      requestId: event.requestId,
      // The Slack listener already dropped redeliveries of this click.
      deduplicated: true,
    };
    services.log.info(
      { requestId: event.requestId, user: event.user, command: button.command, host: button.host },
      'alert button: opening a request',
    );
    const opened = await dispatchCommand(services, invocation, replierFor(services, invocation));
    // The alert says what was asked of it, so that the next responder does not ask again.
    if (opened && button.ref !== undefined && relay) {
      await relay
        .noteRequest(button.ref, { command: button.command, user: event.user })
        .catch((err) => services.log.warn({ err }, 'could not note the request on the alert message'));
    }
  });
}

// ---- auto-run ---------------------------------------------------------------------------------------------------

/**
 * A rule's `auto` command, run as ward itself (the bot user from auth.test) on a new alert whose host is in the
 * inventory. Auto-run bypasses the role check (no person asked), but never the approval count: the plan goes to
 * the gate with the command's effective policy, so a command whose policy demands approvals becomes a pending
 * request instead of running. Only commands whose effective policy says `auto: true` run this way; a command that
 * needs the requester's second factor is refused (ward has none to give). Replies thread under the alert.
 */
export async function autoRun(
  services: Services,
  botUserId: () => Promise<string>,
  request: AutoRunRequest,
): Promise<void> {
  const log = services.log.child({ component: 'alerts', command: request.command, host: request.host });
  const note = (message: ChatMessage) =>
    services.chat.postMessage(request.channel, message, { threadTs: request.ts }).then(() => undefined);
  const command = services.commands.find(request.command);
  if (!command) {
    log.warn('auto-run: no such command');
    return;
  }
  const policy = services.policy.policyFor(command);
  const refuse = async (why: string) => {
    log.info({ why }, 'auto-run refused');
    await services.audit
      .record({
        type: 'alert.auto_run',
        command: command.name,
        hosts: [request.host],
        outcome: 'refused',
        details: { why },
      })
      .catch(() => {});
    await note({ text: `:information_source: Not run automatically: ${why}` });
  };
  if (!policy.auto) {
    await refuse(`\`${command.name}\` is not marked \`auto: true\` in ward's policy.`);
    return;
  }
  if (policy.mfa === 'requester' || policy.mfa === 'both') {
    await refuse(`\`${command.name}\` needs the requester's second factor; use the button instead.`);
    return;
  }
  const user = await botUserId();
  const invocation: Invocation = {
    user,
    channel: request.channel,
    text: `${command.name} ${request.host} --reason "${alertReason(request.alert.title, request.alert.fingerprint)}"`,
    threadTs: request.ts,
    requestId: newRequestId(),
  };
  const earlier = await claimAutoRun(services, command.name, request.host, {
    requestId: invocation.requestId,
    fingerprint: request.alert.fingerprint,
  });
  if (earlier !== undefined) {
    await suppress(services, log, note, command.name, request, earlier);
    return;
  }
  const reply: Replier = {
    ephemeral: note,
    inChannel: (message, options = {}) =>
      services.chat.postMessage(request.channel, message, { threadTs: options.threadTs ?? request.ts }),
  };
  try {
    const { args, flags } = parseCommandText(services, invocation.text);
    const ctx: CommandContext<unknown> = { args, flags, invocation, reply, services };
    await services.audit
      .record({
        type: 'alert.auto_run',
        actor: user,
        requestId: invocation.requestId,
        command: command.name,
        hosts: [request.host],
        outcome: 'submitted',
        details: { fingerprint: request.alert.fingerprint, approvals: policy.approvals },
      })
      .catch(() => {});
    if (command.kind === 'read') {
      await command.run!(ctx);
      return;
    }
    const plan = await command.plan!(ctx);
    await services.gate.submit({ command, ctx, plan, policy });
  } catch (err) {
    await answerError(services, log, reply, err, { command: command.name, user });
  }
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

/** An auto-run inside the interval: said in the alert's thread, logged and audited, never silent. */
async function suppress(
  services: Services,
  log: Services['log'],
  note: (message: ChatMessage) => Promise<void>,
  command: string,
  request: AutoRunRequest,
  earlier: AutoRunClaim,
): Promise<void> {
  const intervalSeconds = services.config.WARD_AUTO_RUN_INTERVAL_SECONDS;
  const when = Number.isFinite(earlier.at) ? ` at ${new Date(earlier.at).toISOString()}` : '';
  const why = `\`${command}\` already ran automatically on ${request.host}${when} (request ${earlier.requestId}); ward auto-runs a command on a host at most once every ${intervalSeconds} s (WARD_AUTO_RUN_INTERVAL_SECONDS).`;
  log.info({ earlier: earlier.requestId, fingerprint: request.alert.fingerprint }, 'auto-run suppressed');
  await services.audit
    .record({
      type: 'alert.auto_run',
      command,
      hosts: [request.host],
      outcome: 'suppressed',
      details: {
        fingerprint: request.alert.fingerprint,
        earlierRequestId: earlier.requestId,
        intervalSeconds,
      },
    })
    .catch((err) => log.warn({ err }, 'could not audit a suppressed auto-run'));
  await note({
    text: `:information_source: Not run automatically: ${why} Run \`/ward ${command} ${request.host}\` for a fresh one.`,
  });
}

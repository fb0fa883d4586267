import { existsSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { commands } from '../commands/index.js';
import { releaseHostLocksOf } from './actions/host-lock.js';
import { registerHuntButtons } from './actions/hunt-buttons.js';
import { ChainedAuditLog, chainModeProblem } from './adapters/audit/chained-audit-log.js';
import { DuoMfa } from './adapters/duo/duo-mfa.js';
import { LocalShell } from './adapters/local/local-shell.js';
import { DisabledMailer } from './adapters/mailgun/disabled-mailer.js';
import { MemoryStore } from './adapters/memory/memory-store.js';
import { createRedisStore } from './adapters/redis/redis-store.js';
import { SlackChat } from './adapters/slack/slack-chat.js';
import { NodeSshShell } from './adapters/ssh/node-ssh-shell.js';
import { TotpMfa } from './adapters/totp/totp-mfa.js';
import { TransportShell } from './adapters/transport-shell.js';
import { countAlertOutcome } from './alerts/count.js';
import { installAlerts } from './alerts/install.js';
import { AnchorPublisher } from './audit/anchor.js';
import { deriveAuditKey } from './audit/chain.js';
import { type CloudWatcher, startCloudWatcher } from './cloud/watcher.js';
import { type Config, loadConfig, SECRET_VARS } from './config/env.js';
import { fileSha256 } from './config/file-sha256.js';
import type { Inventory } from './config/inventory.js';
import { InventoryHolder } from './config/inventory-holder.js';
import { policyFileSchema } from './config/policy.js';
import { loadYamlFile } from './config/yaml-file.js';
import { startContainmentChecker } from './containment/checker.js';
import { registerReapplyButton } from './containment/reapply.js';
import { createApprovals } from './core/approvals/approvals.js';
import type { ExpirySweeper } from './core/approvals/sweeper.js';
import { ExecutionLedger } from './core/executions.js';
import { sweepEnrolmentMessages } from './core/mfa/enrolment-messages.js';
import { PolicyEngine } from './core/policy-engine.js';
import { RecoveryScanner } from './core/recovery.js';
import { CommandRegistry } from './core/registry.js';
import { requestsPort } from './core/requests/open-request.js';
import type { Services } from './core/services.js';
import { WorkTracker } from './core/work-tracker.js';
import { ConfigError, WardError } from './errors.js';
import { registerOpsRoutes } from './http/ops-routes.js';
import { HttpRoutes, listen, refuseUnread } from './http/server.js';
import { IncidentAuditLog } from './incidents/incident-audit.js';
import { IncidentService } from './incidents/incident-service.js';
import { registerIncidentInteractions } from './incidents/interactions.js';
import { createLogger, installCrashHandlers } from './log.js';
import { promMetrics } from './metrics.js';
import type { Clock } from './ports/clock.js';
import { systemClock } from './ports/clock.js';
import type { Store } from './ports/store.js';
import { shutdownSequence } from './shutdown.js';
import { registerAlertButtons } from './slack/alert-buttons.js';
import { createSlackApp } from './slack/app.js';
import { registerApprovalListeners } from './slack/approval-listeners.js';
import { InteractionRouter } from './slack/interactions.js';
import { registerRecoveryListeners } from './slack/recovery-listeners.js';
import { registerShowPlan } from './slack/show-plan.js';
import { SlackRequestNotifier } from './slack/slack-request-notifier.js';
import { wardUserIdOf } from './slack/ward-user.js';

export interface WardOptions {
  env?: Record<string, string | undefined>;
  clock?: Clock;
  logger?: Logger;
}

export interface WardHandle {
  url: string;
  port: number;
  services: Services;
  /** The process's pino logger (services.log is the same, seen through the Logger port). */
  logger: Logger;
  server: Server;
  /** The approvals' expiry sweep (tests run it on demand). */
  approvals: Pick<ExpirySweeper, 'sweep'>;
  /**
   * Reads WARD_INVENTORY again (SIGHUP does the same). An invalid file throws a ConfigError and the inventory in
   * use stays as it was.
   */
  reloadInventory(): Inventory;
  /** Deletes MFA enrolment DMs older than 15 minutes now (a timer does it every minute); returns how many. */
  sweepEnrolmentMessages(): Promise<number>;
  /** Graceful stop: no new work, running work finishes within WARD_SHUTDOWN_GRACE_MS, connections close. */
  stop(): Promise<void>;
}

/** sha256 of the policy and inventory files in force, for the audit log. */
function configFileHashes(config: Config): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, path] of [
    ['policy', config.WARD_POLICY],
    ['inventory', config.WARD_INVENTORY],
    ['rules', config.WARD_RULES],
  ] as const) {
    const sha256 = fileSha256(path);
    if (sha256 !== null) out[name] = sha256;
  }
  return out;
}

/**
 * Whether a request to /slack/events carries Slack's signature headers with a timestamp Bolt would accept (within
 * 5 minutes of the real clock, as Bolt reads it; Bolt also accepts future ones). The signature itself needs the body:
 * Bolt checks it.
 */
function hasFreshSlackSignatureHeaders(req: IncomingMessage, nowMs: number): boolean {
  const signature = req.headers['x-slack-signature'];
  const timestamp = req.headers['x-slack-request-timestamp'];
  if (typeof signature !== 'string' || !/^v0=[0-9a-f]{64}$/i.test(signature)) return false;
  if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp)) return false;
  return Number(timestamp) * 1000 >= nowMs - 5 * 60 * 1000;
}

/** The composition root: config → adapters → commands → listeners → HTTP. */
export async function startWard(options: WardOptions = {}): Promise<WardHandle> {
  const config = loadConfig(options.env ?? process.env);
  const secrets = [...SECRET_VARS]
    .map((k) => (config as Record<string, unknown>)[k])
    .filter((v): v is string => typeof v === 'string');
  const log = options.logger ?? createLogger(config.LOG_LEVEL, secrets);
  const clock = options.clock ?? systemClock;

  const policyFile = config.WARD_POLICY
    ? loadYamlFile(config.WARD_POLICY, policyFileSchema, 'policy file', 'WARD_POLICY')
    : undefined;
  const inventory = new InventoryHolder(config);

  let store: Store;
  if (config.redis) {
    const redis = createRedisStore(config.redis, log);
    await redis.connect();
    store = redis;
    if (config.redis.mode === 'sentinel' && config.redis.minReplicas === 0) {
      log.warn(
        'WARD_REDIS_MIN_REPLICAS=0 with Sentinel: a failover may lose approvals, votes, audit entries and alerts that ward already reported done',
      );
    }
  } else {
    store = new MemoryStore(clock);
    log.warn(
      'REDIS_URL is not set: using the in-process store (REDIS_SENTINELS is not set either). Pending approvals, locks and deduplication are lost on restart, and only one ward replica may run.',
    );
  }

  // The audit chain's HMAC key; without WARD_ENCRYPTION_KEY the chain is unkeyed (dev, sandbox), said loudly.
  const auditKey = deriveAuditKey(config.WARD_ENCRYPTION_KEY);
  const audit = new ChainedAuditLog(store, clock, auditKey);
  const chainProblem = chainModeProblem(await audit.head(), auditKey);
  if (chainProblem !== null) {
    await store.close();
    throw new WardError('ward_audit_chain_mode', chainProblem);
  }
  if (auditKey === null) {
    log.warn(
      'WARD_ENCRYPTION_KEY is not set: the audit chain is UNKEYED, so anyone who can write Redis can rewrite it undetected, and approval requests carry an unkeyed digest only (a Redis writer can approve one). Set the key for any real deployment.',
    );
  }

  const chat = new SlackChat(config.SLACK_BOT_TOKEN, { slackApiUrl: config.SLACK_API_URL, logger: log });
  const registry = new CommandRegistry(commands);
  const work = new WorkTracker();
  const mfa =
    config.WARD_MFA_PROVIDER === 'duo'
      ? new DuoMfa({
          apiHost: config.DUO_API_HOST!,
          ikey: config.DUO_IKEY!,
          skey: config.DUO_SKEY!,
          baseUrl: config.DUO_API_URL,
          limits: { store, maxPushesPerHour: config.WARD_DUO_MAX_PUSHES_PER_HOUR },
        })
      : new TotpMfa(store, clock, config.WARD_ENCRYPTION_KEY);
  if (mfa.name === 'totp' && config.WARD_ENCRYPTION_KEY === undefined) {
    log.warn(
      'WARD_ENCRYPTION_KEY is not set: MFA is disabled, and commands whose policy needs MFA are refused.',
    );
  }
  // mailgun.js is loaded only when email is configured, as the AWS SDK is only on the first cloud command.
  const mailer =
    config.MAILGUN_API_KEY && config.MAILGUN_DOMAIN
      ? new (await import('./adapters/mailgun/mailgun-mailer.js')).MailgunMailer({
          apiKey: config.MAILGUN_API_KEY,
          domain: config.MAILGUN_DOMAIN,
          url: config.MAILGUN_URL,
          from: config.MAILGUN_FROM,
        })
      : new DisabledMailer();
  const interactions = new InteractionRouter();
  const wardUserId = wardUserIdOf(chat);
  const slackAuth = { state: 'pending' as 'pending' | 'ok' | 'failed' };
  const approvals = createApprovals(() => services, { mfa, track: (p) => work.track(p) });
  const services: Services = {
    config,
    log,
    store,
    chat,
    clock,
    // Entries about an incident (recorded in its channel, or about one of its requests) carry its id.
    audit: new IncidentAuditLog(
      audit,
      () => store,
      (incident, event) => services.incidents.onAttached(incident, event),
    ),
    policy: new PolicyEngine(policyFile, registry, chat, clock),
    commands: registry,
    inventory: () => inventory.current(),
    shell: new TransportShell({
      ssh: new NodeSshShell({ connectTimeoutMs: config.WARD_SSH_CONNECT_TIMEOUT_MS }),
      local: new LocalShell(),
    }),
    mailer,
    executions: new ExecutionLedger(store, log, config.WARD_EXECUTION_LEASE_MS, () => clock.now()),
    mfa,
    metrics: promMetrics,
    notifier: new SlackRequestNotifier(chat, log),
    approvals: approvals.service,
    requests: requestsPort(() => services),
    wardUserId,
    incidents: new IncidentService(
      () => services,
      () => wardUserId(),
    ),
    hostLocks: { releaseFor: (requestId, hosts) => releaseHostLocksOf(store, log, requestId, hosts) },
  };

  // Entry points: Slack listeners, alert routes and auto-run, the cloud tag watcher. Each builds a request and
  // hands it to openRequest(); none decides anything itself.
  registerApprovalListeners(interactions, () => services);
  registerRecoveryListeners(interactions, () => services);
  registerAlertButtons(
    interactions,
    () => services,
    () => alerts?.relay,
  );
  registerIncidentInteractions(interactions, () => services);
  registerHuntButtons(interactions, () => services);
  registerReapplyButton(interactions, () => services);
  registerShowPlan(interactions, () => services);
  const slack = createSlackApp(config, services, work, interactions, log);
  const routes = new HttpRoutes({
    maxPendingBodies: config.WARD_HTTP_MAX_PENDING_BODIES,
    maxPendingBodiesPerIp: config.WARD_HTTP_MAX_PENDING_BODIES_PER_IP,
    bodyTimeoutMs: config.WARD_HTTP_BODY_TIMEOUT_MS,
  });
  registerOpsRoutes(routes, { store, slackAuth: () => slackAuth.state, accepting: () => work.accepting });
  const alerts = installAlerts({ config, services, routes, onOutcome: countAlertOutcome });
  if (alerts) services.alerts = alerts.control;
  if (slack.receiver) {
    const listener = slack.receiver.requestListener;
    routes.add('POST', '/slack/events', (req, res) => {
      // Bolt reads the whole body (up to 4 MB) before it checks the signature: refuse at once what cannot be signed,
      // and count the rest against the unauthenticated-body caps.
      if (!hasFreshSlackSignatureHeaders(req, Date.now())) {
        refuseUnread(res, 401, { error: 'missing or stale Slack signature' });
        return;
      }
      const release = routes.admitUnauthenticatedBody(req, res);
      if (release === undefined) return;
      req.once('end', release);
      // A body slower than the timeout loses its connection. No 408: Bolt answers the aborted read itself, and a
      // second answer would make it throw ERR_HTTP_HEADERS_SENT.
      const timer = setTimeout(() => {
        if (!req.complete) req.destroy();
      }, config.WARD_HTTP_BODY_TIMEOUT_MS);
      res.once('close', () => clearTimeout(timer));
      // Bolt's listener throws synchronously (HTTPReceiverDeferredRequestError, carrying the request and its
      // headers) for requests it does not serve; HttpRoutes.handle turns a throw into a 500 that logs nothing.
      listener(req, res);
    });
  }
  // Tag-driven quarantine (optional): asks for quarantines as ward itself, through openRequest.
  const watcher: CloudWatcher | undefined =
    config.WARD_AWS_WATCH === '1' ? startCloudWatcher(services) : undefined;
  // Containment that holds: one replica checks every lockdown, block and quarantine ward applied.
  const containment = startContainmentChecker(services);
  approvals.sweeper.start();
  const recovery = new RecoveryScanner(services);

  const { server, port } = await listen(routes, config.PORT, config.WARD_BIND);
  await slack.start();
  alerts?.start();
  services
    .wardUserId()
    .then((id) => {
      slackAuth.state = 'ok';
      log.info({ botUser: id }, 'Slack token verified');
    })
    .catch((err) => {
      slackAuth.state = 'failed';
      log.error({ err }, 'Slack rejected the bot token (auth.test failed): check SLACK_BOT_TOKEN');
    });

  const host = config.WARD_BIND === '0.0.0.0' ? '127.0.0.1' : config.WARD_BIND;
  const url = `http://${host}:${port}`;
  log.info(
    {
      port,
      mode: config.socketMode ? 'socket' : 'http',
      store: store.kind,
      hosts: inventory.current().hosts.size,
    },
    `ward listening on ${url} (${config.socketMode ? 'Socket Mode' : 'HTTP mode, Slack endpoint /slack/events'}; store: ${store.kind})`,
  );
  await services.audit
    .record({ type: 'config.loaded', details: configFileHashes(config) })
    .catch((err) => log.error({ err }, 'could not audit the configuration in force'));
  recovery.start();
  const stopAnchors = new AnchorPublisher({
    head: () => audit.head(),
    log,
    chat,
    store,
    channel: config.WARD_AUDIT_ANCHOR_CHANNEL,
  }).start(config.WARD_AUDIT_ANCHOR_MINUTES * 60_000);
  // Enrolment DMs carry TOTP secrets: those never confirmed are deleted 15 minutes after they were sent.
  const enrolmentSweep = setInterval(() => {
    sweepEnrolmentMessages(services).catch((err: unknown) =>
      log.warn({ err }, 'could not sweep MFA enrolment messages'),
    );
  }, 60_000);
  enrolmentSweep.unref();

  return {
    url,
    port,
    services,
    logger: log,
    server,
    approvals: approvals.sweeper,
    reloadInventory: () => inventory.reload(services.audit, log),
    sweepEnrolmentMessages: () => sweepEnrolmentMessages(services),
    stop: shutdownSequence({
      services,
      timers: [stopAnchors, () => clearInterval(enrolmentSweep)],
      watcher: {
        async stop() {
          await watcher?.stop();
          await containment?.stop();
        },
      },
      sweeper: approvals.sweeper,
      work,
      recovery,
      slack,
      alerts,
      server,
      store,
      graceMs: config.WARD_SHUTDOWN_GRACE_MS,
    }),
  };
}

async function cli(): Promise<void> {
  // A .env file in the working directory is read when present; real environment variables win.
  if (existsSync('.env')) process.loadEnvFile('.env');
  let ward: WardHandle;
  try {
    ward = await startWard();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(
        `ward cannot start: ${err.userMessage}\nSee .env.example and docs/configuration.md.\n`,
      );
    } else if (err instanceof WardError) {
      process.stderr.write(`ward cannot start: ${err.userMessage}\n`);
    } else {
      process.stderr.write(`ward cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    process.exit(1);
  }
  installCrashHandlers(ward.logger);
  const shutdown = (signal: string) => {
    ward.services.log.info({ signal }, 'shutting down');
    ward.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  // SIGHUP rereads the inventory and the alert rules; an invalid file is logged with its problems and the one in
  // use stays.
  process.on('SIGHUP', () => {
    try {
      ward.reloadInventory();
    } catch (err) {
      ward.services.log.error(
        { problems: err instanceof ConfigError ? err.problems : String(err) },
        'inventory reload failed: keeping the inventory in use',
      );
    }
    void ward.services.alerts?.reloadRules({ trigger: 'SIGHUP' }).catch((err: unknown) => {
      ward.services.log.error({ err }, 'rules reload failed');
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void cli();
}

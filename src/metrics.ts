import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Metrics } from './ports/metrics.js';

/**
 * ward's Prometheus metrics, served at `GET /metrics`. One registry per process; the metrics are module-level so
 * that any feature imports and increments them without wiring. Label values must come from bounded sets
 * (command names, outcomes, Slack method names, inventory host names), never from user text.
 */
export const registry = new Registry();
registry.setDefaultLabels({ app: 'ward' });
collectDefaultMetrics({ register: registry, prefix: 'ward_process_' });

/** `/ward <command>` invocations. outcome: ok | refused | invalid | unavailable | error | duplicate. */
export const commandsTotal = new Counter({
  name: 'ward_commands_total',
  help: 'Slash commands handled, by command and outcome',
  labelNames: ['command', 'outcome'] as const,
  registers: [registry],
});

/** Decisions on approval requests. outcome: approved | denied | expired | cancelled | overridden. */
export const approvalsTotal = new Counter({
  name: 'ward_approvals_total',
  help: 'Approval requests decided, by command and outcome',
  labelNames: ['command', 'outcome'] as const,
  registers: [registry],
});

/** Stored requests that failed their integrity check (each distinct content once). problem: tampered | unsealed | unverifiable. */
export const requestsTamperedTotal = new Counter({
  name: 'ward_requests_tampered_total',
  help: 'Stored approval requests that failed their integrity check and were not acted on, by problem',
  labelNames: ['problem'] as const,
  registers: [registry],
});

/** Executions of approved plans. outcome: succeeded | dry_run | failed | partial | interrupted. */
export const executionsTotal = new Counter({
  name: 'ward_executions_total',
  help: 'Executions of approved plans, by command and outcome',
  labelNames: ['command', 'outcome'] as const,
  registers: [registry],
});

export const executionDurationSeconds = new Histogram({
  name: 'ward_execution_duration_seconds',
  help: 'Execution time of approved plans, by command and outcome',
  labelNames: ['command', 'outcome'] as const,
  buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
  registers: [registry],
});

export const executionsRunning = new Gauge({
  name: 'ward_executions_running',
  help: 'Executions running in this process',
  registers: [registry],
});

/** SSH connections that could not be made. reason: timeout | refused | unreachable | host_key | auth | other. */
export const sshConnectionFailuresTotal = new Counter({
  name: 'ward_ssh_connection_failures_total',
  help: 'SSH connections that failed, by inventory host and reason',
  labelNames: ['host', 'reason'] as const,
  registers: [registry],
});

/** Webhook alerts. outcome: accepted | deduplicated | rolled_up | rejected | redelivered. */
export const alertsTotal = new Counter({
  name: 'ward_alerts_total',
  help: 'Webhook alerts received, by source and outcome',
  labelNames: ['source', 'outcome'] as const,
  registers: [registry],
});

/** Slack Web API calls as ward made them (after the client's retries). outcome: ok | error. */
export const slackApiCallsTotal = new Counter({
  name: 'ward_slack_api_calls_total',
  help: 'Slack Web API calls, by method and outcome (retries included in one call)',
  labelNames: ['method', 'outcome'] as const,
  registers: [registry],
});

/** Every HTTP request to Slack, retries included; status is the HTTP status or `network`. */
export const slackHttpRequestsTotal = new Counter({
  name: 'ward_slack_http_requests_total',
  help: 'HTTP requests sent to Slack (each retry counts), by method and status',
  labelNames: ['method', 'status'] as const,
  registers: [registry],
});

export const slackRateLimitedTotal = new Counter({
  name: 'ward_slack_rate_limited_total',
  help: 'Slack answers 429 (rate limited), by method',
  labelNames: ['method'] as const,
  registers: [registry],
});

/** Times this process found the Redis primary at another address than before (a Sentinel failover). */
export const redisFailoversTotal = new Counter({
  name: 'ward_redis_failovers_total',
  help: 'Redis primary changes seen by this process (Sentinel failovers)',
  registers: [registry],
});

/** 1 for the Redis primary this process is connected to (host:port, from a bounded set of Redis nodes). */
export const redisPrimary = new Gauge({
  name: 'ward_redis_primary',
  help: 'The Redis primary this process is connected to (value 1), by address',
  labelNames: ['address'] as const,
  registers: [registry],
});

/** Differences ward found between a containment it applied and the host or cloud now, each reported once. */
export const containmentDriftTotal = new Counter({
  name: 'ward_containment_drift_total',
  help: 'Containment drifts reported, by kind (lockdown | block | persistence | quarantine)',
  labelNames: ['kind'] as const,
  registers: [registry],
});

/** When ward last got an answer from a contained host (ok or drift); an unreachable host does not move it. */
export const containmentLastVerifiedSeconds = new Gauge({
  name: 'ward_containment_last_verified_timestamp_seconds',
  help: 'Unix time of the last check that verified a contained host or instance (ok or drift)',
  labelNames: ['host'] as const,
  registers: [registry],
});

const incidentBuckets = [60, 300, 600, 1800, 3600, 7200, 14_400, 43_200, 86_400, 259_200];

/** From detection (the alert's first sighting, else the open) to the first lockdown, block or quarantine. */
export const incidentTimeToContainSeconds = new Histogram({
  name: 'ward_incident_time_to_contain_seconds',
  help: 'Incidents: seconds from detection to the first successful containment',
  buckets: incidentBuckets,
  registers: [registry],
});

/** From detection to resolution (status resolved, or close). */
export const incidentTimeToResolveSeconds = new Histogram({
  name: 'ward_incident_time_to_resolve_seconds',
  help: 'Incidents: seconds from detection to resolution',
  buckets: incidentBuckets,
  registers: [registry],
});

/** Prometheus text exposition of every metric. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/**
 * TOTP submissions. outcome: valid | invalid | replayed (the code was checked) or locked (refused before any check:
 * the attempt counter was already past the limit). At most 5 checks per user and lock window, whatever the load.
 */
export const mfaCodeChecksTotal = new Counter({
  name: 'ward_mfa_code_checks_total',
  help: 'TOTP code submissions, by outcome (locked ones were refused without checking the code)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** The Metrics port (src/ports/metrics.ts) over the counters above: what core counts, through prom-client. */
export const promMetrics: Metrics = {
  commandFinished: (command, outcome) => commandsTotal.inc({ command, outcome }),
  approvalDecided: (command, outcome) => approvalsTotal.inc({ command, outcome }),
  executionStarted: () => executionsRunning.inc(),
  executionEnded: () => executionsRunning.dec(),
  executionFinished: (command, outcome, seconds) => {
    executionsTotal.inc({ command, outcome });
    executionDurationSeconds.observe({ command, outcome }, seconds);
  },
  executionInterrupted: (command) => executionsTotal.inc({ command, outcome: 'interrupted' }),
  requestTampered: (problem) => requestsTamperedTotal.inc({ problem }),
};

/**
 * What core counts, by name. src/metrics.ts implements it with prom-client; core never imports prom-client, and a
 * test can pass `noMetrics`.
 */
export interface Metrics {
  /** `ward_commands_total{command,outcome}`: one per request opened (ok, refused, invalid, duplicate…). */
  commandFinished(command: string, outcome: string): void;
  /** `ward_approvals_total{command,outcome}`: approved, denied, cancelled, expired, overridden. */
  approvalDecided(command: string, outcome: string): void;
  /** `ward_executions_running` goes up when an execution starts. */
  executionStarted(): void;
  /** …and down when it ends, whatever its outcome. */
  executionEnded(): void;
  /** `ward_executions_total` and `ward_execution_duration_seconds` for a finished execution. */
  executionFinished(command: string, outcome: string, seconds: number): void;
  /** `ward_executions_total{outcome="interrupted"}`. */
  executionInterrupted(command: string): void;
  /** `ward_requests_tampered_total{problem}`: a stored request failed its integrity check (reported once). */
  requestTampered(problem: string): void;
}

/** Counts nothing (tests, tools). */
export const noMetrics: Metrics = {
  commandFinished() {},
  approvalDecided() {},
  executionStarted() {},
  executionEnded() {},
  executionFinished() {},
  executionInterrupted() {},
  requestTampered() {},
};

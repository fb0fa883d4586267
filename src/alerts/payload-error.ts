import type { z } from 'zod';
import { WardError } from '../errors.js';

/**
 * A webhook body that does not have the shape its source documents. The HTTP layer answers 400 with
 * `userMessage`, which names the failing field (`alerts[0].labels: expected object, received string`) so that
 * whoever configured the sender can fix it without reading ward's logs.
 */
export class PayloadError extends WardError {
  /** The failing field, e.g. `alerts[0].labels`; empty for the body itself. */
  readonly field: string;

  constructor(source: string, field: string, problem: string) {
    super('ward_alert_payload', `${source} payload: ${field === '' ? '' : `${field}: `}${problem}`);
    this.field = field;
  }
}

/** `['alerts', 0, 'labels']` → `alerts[0].labels`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** A zod issue as a short problem: `expected object, received string`, `missing (expected string)`. */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    const expected = issue.expected === 'record' ? 'object' : issue.expected;
    const received = /received (\w+)/.exec(issue.message)?.[1];
    if (received === 'undefined') return `missing (expected ${expected})`;
    return received === undefined ? `expected ${expected}` : `expected ${expected}, received ${received}`;
  }
  return issue.message.replace(/^Invalid input: /, '');
}

/**
 * Parses `body` with `schema`; on failure throws a PayloadError naming the first failing field (one clear
 * problem is more useful to a sender than a wall of them).
 */
export function parsePayload<S extends z.ZodType>(source: string, schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw new PayloadError(source, '', 'invalid payload');
  throw new PayloadError(source, formatPath(issue.path), describeIssue(issue));
}

/**
 * A payload timestamp as ISO 8601 UTC. Throws a PayloadError naming `field` when it cannot be read, rather than
 * letting an "Invalid Date" reach Slack.
 */
export function toIsoTime(source: string, field: string, value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new PayloadError(source, field, `not a timestamp: ${JSON.stringify(value)}`);
  return new Date(ms).toISOString();
}

/**
 * Alertmanager and Grafana send `0001-01-01T00:00:00Z` (Go's zero time) for "no end yet": that is not an end.
 */
export function optionalEndTime(
  source: string,
  field: string,
  value: string | undefined,
): string | undefined {
  if (value === undefined || value === '' || value.startsWith('0001-01-01')) return undefined;
  return toIsoTime(source, field, value);
}

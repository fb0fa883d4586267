import { z } from 'zod';
import { alertSourceEnvShape, alertSourceSecretVars } from '../alerts/sources/registry.js';
import { ConfigError } from '../errors.js';
import { optionalString } from './env-values.js';

/**
 * Every environment variable ward reads, in one schema. `secret: true` in the description table below means the
 * value is never printed, not even in an error. Nothing outside this file reads process.env.
 * test/unit/env-example.test.ts keeps .env.example in step with ENV_VARS.
 */
const optionalUrl = (what: string) =>
  optionalString.refine((v) => v === undefined || isUrl(v), `must be a URL (${what})`);

function isUrl(value: string): boolean {
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

const port = z.coerce
  .number({ error: 'must be a port number from 0 to 65535 (0 picks a free one)' })
  .int('must be a whole number')
  .min(0, 'must be from 0 to 65535')
  .max(65535, 'must be from 0 to 65535');

export const envSchema = z.object({
  SLACK_BOT_TOKEN: z
    .string({ error: 'is required: the Bot User OAuth Token (xoxb-…) from OAuth & Permissions' })
    .startsWith(
      'xoxb-',
      'must be a bot token starting with xoxb- (OAuth & Permissions → Bot User OAuth Token)',
    ),
  SLACK_SIGNING_SECRET: z
    .string({ error: 'is required: Basic Information → App Credentials → Signing Secret' })
    .min(8, 'looks too short: copy Basic Information → App Credentials → Signing Secret'),
  PORT: port.default(3000),
  WARD_BIND: z.string().default('0.0.0.0'),
  SLACK_API_URL: optionalUrl('Slack Web API base, e.g. https://slack.com/api/'),
  SLACK_APP_TOKEN: optionalString.refine(
    (v) => v === undefined || v.startsWith('xapp-'),
    'must be an app-level token starting with xapp- (Basic Information → App-Level Tokens, scope connections:write)',
  ),
  REDIS_URL: optionalString.refine(
    (v) => v === undefined || /^rediss?:\/\//.test(v) || v.startsWith('/'),
    'must be redis://host:port[/db], rediss://… or a unix socket path',
  ),
  REDIS_SENTINELS: optionalString.refine(
    (v) => v === undefined || parseSentinels(v) !== null,
    'must be a comma-separated list of host:port (e.g. s1:26379,s2:26379,s3:26379); prefix each with rediss:// for TLS',
  ),
  REDIS_SENTINEL_NAME: optionalString,
  REDIS_SENTINEL_PASSWORD: optionalString,
  REDIS_PASSWORD: optionalString,
  WARD_REDIS_MIN_REPLICAS: z.coerce
    .number({ error: 'must be a whole number of replicas (0 turns the wait off)' })
    .int('must be a whole number')
    .min(0, 'must be 0 or more')
    .max(16, 'must be at most 16')
    .optional(),
  WARD_REDIS_DURABLE_TIMEOUT_MS: z.coerce
    .number({ error: 'must be a number of milliseconds' })
    .int('must be a whole number')
    .min(10, 'must be at least 10 ms')
    .max(30_000, 'must be at most 30000 ms')
    .default(1000),
  WARD_POLICY: optionalString,
  WARD_INVENTORY: optionalString,
  WARD_RULES: optionalString,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  WARD_ENCRYPTION_KEY: optionalString.refine(
    (v) => v === undefined || /^[0-9a-fA-F]{64}$/.test(v) || Buffer.from(v, 'base64').length === 32,
    'must be 32 bytes as 64 hex characters or base64 (generate one with: openssl rand -hex 32)',
  ),
  WARD_MFA_PROVIDER: z.enum(['totp', 'duo']).default('totp'),
  DUO_API_HOST: optionalString,
  DUO_IKEY: optionalString,
  DUO_SKEY: optionalString,
  DUO_API_URL: optionalUrl('override of https://<DUO_API_HOST>, for a test server'),
  /** Duo pushes ward sends one person per hour (push fatigue); one push at a time per person regardless. */
  WARD_DUO_MAX_PUSHES_PER_HOUR: z.coerce.number().int().min(1).max(100).default(5),

  WARD_EVIDENCE_DIR: z.string().default('./evidence'),
  WARD_ADMIN_EMAILS: optionalString,
  MAILGUN_API_KEY: optionalString,
  MAILGUN_DOMAIN: optionalString,
  MAILGUN_URL: optionalUrl('https://api.eu.mailgun.net for the EU region'),
  MAILGUN_FROM: optionalString,
  WARD_SSH_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(10),
  WARD_SSH_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  WARD_SSH_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  WARD_LOCKDOWN_CONFIRM_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
  WARD_HOST_LOCK_WAIT_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
  WARD_AUTO_RUN_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(604_800).default(600),
  /** Seconds between checks of every containment ward believes in (lockdowns, blocks, quarantines); 0: off. */
  WARD_CONTAINMENT_CHECK_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  /** Consecutive failed checks of one containment before ward says in the channel that it is unverified. */
  WARD_CONTAINMENT_UNVERIFIED_AFTER: z.coerce.number().int().min(1).max(1000).default(3),
  /** block-ip refuses IPv4 ranges wider than this prefix length (a /8 typed by mistake cuts off a continent). */
  WARD_BLOCK_MIN_PREFIX_V4: z.coerce.number().int().min(0).max(32).default(16),
  /** The same for IPv6: a /48 is one site. */
  WARD_BLOCK_MIN_PREFIX_V6: z.coerce.number().int().min(0).max(128).default(48),
  /** Hunt bounds per host (docs/hunts.md): files larger than this are not hashed; at most this many files. */
  WARD_HUNT_MAX_FILE_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(64 * 1024 * 1024),
  WARD_HUNT_MAX_FILES: z.coerce.number().int().min(1).max(10_000_000).default(200_000),
  /** The sha256 scan's time cap on each host; `--time-limit` may only shorten it. */
  WARD_HUNT_SCAN_TIMEOUT_MS: z.coerce.number().int().min(100).default(120_000),
  /** A hunt on more than 5 hosts edits one progress message, at most this often. */
  WARD_HUNT_PROGRESS_INTERVAL_MS: z.coerce.number().int().min(200).default(2000),

  // Each alert source's own variables (tokens, secrets, SNS topics), declared in its module in src/alerts/sources/.
  ...alertSourceEnvShape,
  WARD_ALERT_DEFAULT_CHANNEL: optionalString.refine(
    (v) => v === undefined || /^[CG][A-Z0-9]{2,}$/.test(v),
    'must be a Slack channel id (C… or G…), not a channel name',
  ),
  WARD_ALERT_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  /** Alert flood limits (docs/security.md, "Alert floods"). */
  WARD_ALERT_MAX_PER_REQUEST: z.coerce.number().int().min(1).max(5000).default(500),
  WARD_ALERT_QUEUE_MAX: z.coerce.number().int().min(2).default(10_000),
  WARD_ALERT_RATE_PER_SOURCE: z.coerce.number().int().min(1).default(1200),
  WARD_ALERT_RATE_PER_HOST: z.coerce.number().int().min(1).default(60),

  // The HTTP edge (docs/security.md): what a sender who has not proven who it is may cost ward.
  WARD_HTTP_MAX_PENDING_BODIES: z.coerce.number().int().min(1).default(32),
  WARD_HTTP_MAX_PENDING_BODIES_PER_IP: z.coerce.number().int().min(1).default(4),
  WARD_HTTP_BODY_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** SNS messages older than this (their signed Timestamp) are refused; MessageIds are remembered this long. */
  WARD_ALERT_SNS_MAX_AGE_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
  /** A signed generic request's timestamp may be this far from ward's clock, either way; each signature is used once. */
  WARD_ALERT_HMAC_WINDOW_SECONDS: z.coerce.number().int().min(10).max(3600).default(300),

  /**
   * `1`: approve and plan everything, change nothing (for demos, training and staging). Approved `change`
   * commands report their plan as "dry run: nothing changed" instead of running; read-only ones (forensics) run.
   */
  WARD_DRY_RUN: z.enum(['0', '1'], { error: 'must be 0 or 1' }).default('0'),

  WARD_AUDIT_ANCHOR_MINUTES: z.coerce.number().int().min(1).max(1440).default(15),
  WARD_AUDIT_ANCHOR_CHANNEL: optionalString.refine(
    (v) => v === undefined || /^[CG][A-Z0-9]{2,}$/.test(v),
    'must be a Slack channel id (C… or G…), not a channel name',
  ),

  WARD_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
  WARD_EXECUTION_LEASE_MS: z.coerce.number().int().min(1000).default(15_000),

  /** Incident channels are private unless `0` (src/incidents/). */
  WARD_INCIDENT_PRIVATE: z.enum(['0', '1'], { error: 'must be 0 or 1' }).default('1'),
  /** Invited to every incident channel: Slack user ids and/or user group ids, comma-separated. */
  WARD_INCIDENT_RESPONDERS: optionalString.refine(
    (v) => v === undefined || v.split(',').every((p) => /^[UWS][A-Z0-9]{2,}$/.test(p.trim())),
    'must be Slack user ids (U…/W…) and user group ids (S…), comma-separated',
  ),
  /** Where new incidents and their updates are announced, besides the channel they were opened from. */
  WARD_INCIDENT_BROADCAST_CHANNEL: optionalString.refine(
    (v) => v === undefined || /^[CG][A-Z0-9]{2,}$/.test(v),
    'must be a Slack channel id (C… or G…), not a channel name',
  ),

  AWS_ENDPOINT_URL: optionalUrl('an EC2-compatible endpoint'),
  WARD_AWS_WATCH: z.enum(['0', '1']).default('0'),
  WARD_AWS_WATCH_INTERVAL_SECONDS: z.coerce.number().int().min(10).default(60),
  WARD_AWS_WATCH_CHANNEL: optionalString,
});

export type Env = z.infer<typeof envSchema>;

/** Names of variables whose values are secrets: never logged, never echoed in an error. */
export const SECRET_VARS: ReadonlySet<string> = new Set([
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'REDIS_URL',
  'REDIS_SENTINEL_PASSWORD',
  'REDIS_PASSWORD',
  'WARD_ENCRYPTION_KEY',
  'DUO_IKEY',
  'DUO_SKEY',
  'MAILGUN_API_KEY',
  ...alertSourceSecretVars,
]);

/** Every variable the schema knows, for the .env.example check. */
export const ENV_VARS: readonly string[] = Object.keys(envSchema.shape);

/**
 * Where ward's Redis is and how writes that carry a promise are made durable: one URL, or a Sentinel group that
 * ioredis follows through failovers. Undefined when neither REDIS_URL nor REDIS_SENTINELS is set.
 */
export type RedisConfig = Readonly<
  (
    | { mode: 'url'; url: string }
    | {
        mode: 'sentinel';
        sentinels: ReadonlyArray<{ host: string; port: number }>;
        name: string;
        sentinelPassword: string | undefined;
        tls: boolean;
      }
  ) & {
    password: string | undefined;
    /** Replicas that must acknowledge a promise-carrying write (Redis WAIT) before ward reports it done. */
    minReplicas: number;
    durableTimeoutMs: number;
  }
>;

export type Config = Readonly<
  Env & {
    /** Socket Mode when an app-level token is set, else the HTTP receiver. */
    socketMode: boolean;
    adminEmails: string[];
    redis: RedisConfig | undefined;
  }
>;

/** `host:port,host:port` (each optionally `redis://` or `rediss://`, all alike); null when malformed or mixed. */
export function parseSentinels(
  value: string,
): { tls: boolean; sentinels: Array<{ host: string; port: number }> } | null {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) return null;
  const schemes = new Set<string>();
  const sentinels: Array<{ host: string; port: number }> = [];
  for (const item of items) {
    const m = /^(?:(rediss?):\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(item);
    if (!m) return null;
    const port = Number(m[3]);
    if (port < 1 || port > 65535) return null;
    schemes.add(m[1] ?? 'redis');
    sentinels.push({ host: m[2]!.replace(/^\[|\]$/g, ''), port });
  }
  if (schemes.size > 1) return null;
  return { tls: schemes.has('rediss'), sentinels };
}

type RedisEnv = Pick<
  Env,
  | 'REDIS_URL'
  | 'REDIS_SENTINELS'
  | 'REDIS_SENTINEL_NAME'
  | 'REDIS_SENTINEL_PASSWORD'
  | 'REDIS_PASSWORD'
  | 'WARD_REDIS_MIN_REPLICAS'
  | 'WARD_REDIS_DURABLE_TIMEOUT_MS'
>;

/** The Redis part of the configuration, checked across variables; problems are pushed by variable name. */
function redisConfigOf(data: RedisEnv, problems: string[]): RedisConfig | undefined {
  if (data.REDIS_URL !== undefined && data.REDIS_SENTINELS !== undefined) {
    problems.push(
      'REDIS_URL, REDIS_SENTINELS: set one of them (a single Redis, or a Sentinel group), not both',
    );
    return undefined;
  }
  if (data.REDIS_SENTINELS === undefined) {
    for (const name of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD'] as const) {
      if (data[name] !== undefined)
        problems.push(`${name}: only used with REDIS_SENTINELS, which is not set`);
    }
  }
  const common = {
    password: data.REDIS_PASSWORD,
    durableTimeoutMs: data.WARD_REDIS_DURABLE_TIMEOUT_MS,
  };
  if (data.REDIS_SENTINELS !== undefined) {
    const parsed = parseSentinels(data.REDIS_SENTINELS);
    if (data.REDIS_SENTINEL_NAME === undefined) {
      problems.push(
        'REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the master group name of `sentinel monitor <name> …`)',
      );
    }
    if (parsed === null || data.REDIS_SENTINEL_NAME === undefined) return undefined;
    return Object.freeze({
      mode: 'sentinel' as const,
      sentinels: Object.freeze(parsed.sentinels),
      name: data.REDIS_SENTINEL_NAME,
      sentinelPassword: data.REDIS_SENTINEL_PASSWORD,
      tls: parsed.tls,
      ...common,
      // With a standby to fail over to, a promise is only kept once the standby holds it.
      minReplicas: data.WARD_REDIS_MIN_REPLICAS ?? 1,
    });
  }
  if (data.REDIS_URL === undefined) {
    if (data.REDIS_PASSWORD !== undefined)
      problems.push('REDIS_PASSWORD: only used with REDIS_URL or REDIS_SENTINELS');
    return undefined;
  }
  return Object.freeze({
    mode: 'url' as const,
    url: data.REDIS_URL,
    ...common,
    minReplicas: data.WARD_REDIS_MIN_REPLICAS ?? 0,
  });
}

const redisEnvSchema = envSchema.pick({
  REDIS_URL: true,
  REDIS_SENTINELS: true,
  REDIS_SENTINEL_NAME: true,
  REDIS_SENTINEL_PASSWORD: true,
  REDIS_PASSWORD: true,
  WARD_REDIS_MIN_REPLICAS: true,
  WARD_REDIS_DURABLE_TIMEOUT_MS: true,
});

/**
 * Only the Redis variables, for tools that need nothing else (`npm run audit`). Throws a ConfigError naming every
 * bad variable; undefined when no Redis is configured.
 */
export function loadRedisConfig(
  env: Record<string, string | undefined> = process.env,
): RedisConfig | undefined {
  const relevant: Record<string, string> = {};
  for (const name of Object.keys(redisEnvSchema.shape)) {
    const value = env[name];
    if (value !== undefined) relevant[name] = value;
  }
  const parsed = redisEnvSchema.safeParse(relevant);
  if (!parsed.success) {
    throw new ConfigError(
      'ward configuration (environment)',
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
    );
  }
  const problems: string[] = [];
  const redis = redisConfigOf(parsed.data, problems);
  if (problems.length > 0) throw new ConfigError('ward configuration (environment)', problems);
  return redis;
}

/**
 * Parses the environment once. Throws a ConfigError listing every problem by variable name, never by value.
 * Tests pass their own env object.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const relevant: Record<string, string> = {};
  for (const name of ENV_VARS) {
    const value = env[name];
    if (value !== undefined) relevant[name] = value;
  }
  const parsed = envSchema.safeParse(relevant);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = issue.path.join('.') || '(environment)';
      const message =
        issue.code === 'invalid_type' && relevant[name] === undefined ? issue.message : issue.message;
      return `${name}: ${message}`;
    });
    throw new ConfigError('ward configuration (environment)', problems);
  }
  const data = parsed.data;
  const extra: string[] = [];
  if (data.SLACK_API_URL !== undefined && !data.SLACK_API_URL.endsWith('/')) {
    extra.push('SLACK_API_URL: must end with a slash, e.g. https://slack.com/api/');
  }
  const duoSet = [data.DUO_API_HOST, data.DUO_IKEY, data.DUO_SKEY].filter((v) => v !== undefined).length;
  if (data.WARD_MFA_PROVIDER === 'duo' && duoSet !== 3) {
    extra.push('DUO_API_HOST, DUO_IKEY, DUO_SKEY: all three are required when WARD_MFA_PROVIDER=duo');
  }
  const mailgunSet = [data.MAILGUN_API_KEY, data.MAILGUN_DOMAIN].filter((v) => v !== undefined).length;
  if (data.WARD_RULES !== undefined && data.WARD_ALERT_DEFAULT_CHANNEL === undefined) {
    extra.push(
      'WARD_ALERT_DEFAULT_CHANNEL: required with WARD_RULES (alerts that match no rule, or whose channel Slack refuses, go there)',
    );
  }
  if (data.WARD_ALERT_RATE_PER_SOURCE < data.WARD_ALERT_MAX_PER_REQUEST) {
    // A full request must fit in a minute's budget, or the sender's retries would be refused forever.
    extra.push('WARD_ALERT_RATE_PER_SOURCE: must be at least WARD_ALERT_MAX_PER_REQUEST');
  }
  if (mailgunSet === 1) extra.push('MAILGUN_API_KEY, MAILGUN_DOMAIN: set both, or neither to disable email');
  const redis = redisConfigOf(data, extra);
  if (extra.length > 0) throw new ConfigError('ward configuration (environment)', extra);

  const adminEmails = (data.WARD_ADMIN_EMAILS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return Object.freeze({ ...data, socketMode: data.SLACK_APP_TOKEN !== undefined, adminEmails, redis });
}

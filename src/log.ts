import { AsyncLocalStorage } from 'node:async_hooks';
import { LogLevel, type Logger as SlackLogger } from '@slack/logger';
import { type Logger, pino } from 'pino';

/** What every log line written while handling one request carries (its request id), whoever writes it. */
const requestContext = new AsyncLocalStorage<{ requestId: string }>();

/**
 * Runs `fn` so that every log line written inside it, by ward, Bolt or the Slack client, down to the last awaited
 * call, carries `requestId`.
 *
 * `requestId` in a log line is always this Slack request's id. Code naming a ward request (`r-7f3a9c`) logs it as
 * `approvalRequestId`: a field passed to the logger overrides the context's, and an approval's execution usually runs
 * inside someone else's click, whose id must stay on the line.
 */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return requestContext.run({ requestId }, fn);
}

/** Field names whose values are secrets wherever they appear, at any depth (case-insensitive). */
const SECRET_KEY =
  /^(?:.*token|.*secret|password|passphrase|passcode|authorization|proxy-authorization|cookie|set-cookie|.*signature|api[-_]?key|private[-_]?key|mfa[-_]?code|totp(?:[-_]?code)?|otp|one[-_]?time[-_]?code)$/i;

/** Patterns of secrets that must never reach a log line or Slack, whatever field they hide in. */
const SECRET_PATTERNS: RegExp[] = [
  /xox[abposr]-[A-Za-z0-9-]{6,}/g, // Slack tokens
  /xapp-[A-Za-z0-9-]{6,}/g,
  /(Bearer\s+)[A-Za-z0-9._~+/=-]{6,}/gi,
  /(v0=)[0-9a-f]{64}/g, // Slack request signatures
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /otpauth:\/\/[^\s"']+/g, // TOTP provisioning URIs carry the secret
  /(key-)[0-9a-f]{32}/g, // Mailgun private keys
];

/** Replaces every known secret value and secret-looking token in a text. */
export function redactText(text: string, knownSecrets: readonly string[] = []): string {
  let out = text;
  for (const s of knownSecrets) if (s.length >= 6) out = out.split(s).join('[redacted]');
  for (const p of SECRET_PATTERNS) {
    out = out.replace(p, (_m, prefix?: string) =>
      typeof prefix === 'string' && prefix.length < 12 ? `${prefix}[redacted]` : '[redacted]',
    );
  }
  return out;
}

/**
 * Copies a logged object with secret-named fields blanked and secret-looking text scrubbed, at any depth. Errors are
 * left to the `err` serializer (it needs the Error itself).
 */
export function redactObject(value: unknown, knownSecrets: readonly string[] = [], depth = 0): unknown {
  if (typeof value === 'string') return redactText(value, knownSecrets);
  if (value === null || typeof value !== 'object' || value instanceof Error || depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => redactObject(v, knownSecrets, depth + 1));
  if (Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      SECRET_KEY.test(k) && v !== undefined && v !== null
        ? '[redacted]'
        : redactObject(v, knownSecrets, depth + 1);
  }
  return out;
}

/** The longest string a log field (or message) keeps; longer ones are cut with a marker saying how much went. */
export const maxLogStringChars = 4096;
/** Array items and object keys a logged value keeps at one level, and how deep it is followed. */
const maxLogItems = 100;
const maxLogDepth = 8;

/**
 * Cuts a logged value down to a bounded size: strings to maxLogStringChars, arrays and objects to 100 entries, 8
 * levels deep. Whatever a sender puts in a field (a 200 KB SigningCertURL, a huge header) costs the log a few KB
 * at most. Applied to every line by the logger, after redaction (a secret is never cut in half and half-logged).
 */
export function boundLogValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return truncateLogText(value);
  if (value === null || typeof value !== 'object' || value instanceof Error) return value;
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  if (depth >= maxLogDepth) return '[too deep]';
  if (Array.isArray(value)) {
    const kept = value.slice(0, maxLogItems).map((v) => boundLogValue(v, depth + 1));
    if (value.length > maxLogItems) kept.push(`[${value.length - maxLogItems} more items]`);
    return kept;
  }
  const out: Record<string, unknown> = {};
  const entries = Object.entries(value);
  for (const [k, v] of entries.slice(0, maxLogItems))
    out[truncateLogText(k, 200)] = boundLogValue(v, depth + 1);
  if (entries.length > maxLogItems) out['…'] = `[${entries.length - maxLogItems} more keys]`;
  return out;
}

/** A string cut to `max` characters, with a marker naming how many were dropped. */
export function truncateLogText(text: string, max = maxLogStringChars): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}…[truncated ${text.length - max} chars]`;
}

/**
 * The `err` field of a log line, bounded. An Error keeps its type, message and stack (and its own fields, scrubbed);
 * anything else passed as `err` becomes `{ message }`: pino would spread a bare string one character per key.
 */
function serializeErr(err: unknown, knownSecrets: readonly string[]): unknown {
  if (typeof err !== 'object' || err === null)
    return { message: truncateLogText(redactText(String(err), knownSecrets)) };
  return boundLogValue(redactObject({ ...pino.stdSerializers.err(err as Error) }, knownSecrets));
}

/** Field paths pino blanks out wherever they appear in a logged object (fast path; redactObject goes deeper). */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'mfaCode',
  '*.mfaCode',
  'totp',
  '*.totp',
  'signature',
  '*.signature',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-slack-signature"]',
  '*.headers["x-slack-signature"]',
  'apiKey',
  '*.apiKey',
  'privateKey',
  '*.privateKey',
  'otp',
  '*.otp',
  'passcode',
  '*.passcode',
];

export function createLogger(
  level: string,
  knownSecrets: readonly string[] = [],
  destination?: pino.DestinationStream,
): Logger {
  return pino(
    {
      level,
      base: { app: 'ward' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => boundLogValue(redactObject(object, knownSecrets)) as Record<string, unknown>,
      },
      mixin: () => requestContext.getStore() ?? {},
      hooks: {
        // Free text can carry secrets too (an error message quoting a token): scrub the message itself.
        logMethod(args, method) {
          const mapped = args.map((a) =>
            typeof a === 'string' ? truncateLogText(redactText(a, knownSecrets)) : a,
          );
          method.apply(this, mapped as Parameters<typeof method>);
        },
      },
      serializers: {
        // Slack's errors carry the request (and its headers) in enumerable fields: scrub them all.
        err: (err: unknown) => serializeErr(err, knownSecrets),
      },
    },
    destination,
  );
}

/**
 * A logger in the shape @slack/bolt and @slack/web-api expect, writing into ward's pino logger (so their lines are
 * JSON, redacted and carry ward's fields). Their debug output is dropped: it dumps request details.
 */
export function toSlackLogger(log: Logger, component: string): SlackLogger {
  const child = log.child({ component });
  const line = (m: unknown[]) => m.map(String).join(' ');
  return {
    debug: () => {},
    info: (...m: unknown[]) => child.info(line(m)),
    warn: (...m: unknown[]) => child.warn(line(m)),
    error: (...m: unknown[]) => child.error(line(m)),
    setLevel: () => {},
    getLevel: () => LogLevel.INFO,
    setName: () => {},
  };
}

/**
 * Replaces node's crash dump, which prints the error with util.inspect: every enumerable field, so an error that
 * carries a request (Bolt's HTTPReceiverDeferredRequestError has `req`) would print its headers, Authorization and
 * Cookie included. The line written instead has the error's type, code, message and stack only, redacted and
 * bounded.
 *
 * An uncaught exception exits 1 as node would (state is unknown after a throw nobody caught). An unhandled
 * rejection is logged and ward goes on: Bolt's listener rejects when a client vanishes mid-answer
 * (ERR_HTTP_HEADERS_SENT after an aborted request), and a sender must not be able to stop ward that way.
 */
export function installCrashHandlers(log: Logger, exit: (code: number) => void = process.exit): void {
  const summarize = (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = (e as { code?: unknown }).code;
    return {
      type: e.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: e.message,
      stack: e.stack ?? '',
    };
  };
  process.on('uncaughtException', (err) => {
    try {
      log.fatal({ crash: summarize(err) }, 'uncaught exception: ward exits');
      log.flush?.();
    } finally {
      exit(1);
    }
  });
  process.on('unhandledRejection', (reason) => {
    log.error({ crash: summarize(reason) }, 'unhandled promise rejection (ward goes on)');
  });
}

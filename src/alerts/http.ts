import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/env.js';
import { StoreUnavailableError } from '../errors.js';
import {
  BodyTimeoutError,
  BodyTooLargeError,
  type HttpRoutes,
  readBody,
  refuseUnread,
  sendJson,
} from '../http/server.js';
import type { Logger } from '../ports/logger.js';
import type { Store } from '../ports/store.js';
import { type Alert, type AlertSource, capAlertFields } from './alert.js';
import { checkBearer, checkHmacHeaders, checkHmacSignature } from './auth.js';
import { type AlertIntakeLimits, declaredAlertCount } from './intake-limits.js';
import { PayloadError } from './payload-error.js';
import { AlertQueueFullError } from './queue.js';
import type { AlertOutcome, AlertRelay } from './relay.js';
import {
  checkSnsTimestamp,
  claimOnce,
  hmacSignatureKey,
  type OnceClaim,
  snsMaxFutureSkewMs,
  snsMessageKey,
} from './replay-guard.js';
import {
  type AlertSourceConfig,
  alertSourceModules,
  findAlertSource,
  isAlertSourceEnabled,
  listValue,
} from './sources/registry.js';
import {
  type CertFetcher,
  isSnsUrl,
  parseSnsEnvelope,
  SnsVerificationError,
  verifySnsSignature,
} from './sources/sns.js';

type AlertConfig = Pick<
  Config,
  'WARD_ALERT_MAX_BODY_BYTES' | 'WARD_ALERT_SNS_MAX_AGE_SECONDS' | 'WARD_ALERT_HMAC_WINDOW_SECONDS'
> &
  AlertSourceConfig;

export interface AlertRoutesOptions {
  config: AlertConfig;
  relay: Pick<AlertRelay, 'accept'>;
  /** Where SNS MessageIds and HMAC signatures already used are recorded (shared by replicas). */
  store: Pick<Store, 'setIfAbsent' | 'del'>;
  log: Logger;
  clock: { now(): number };
  /** Fetches SNS signing certificates (PEM). */
  fetchCert: CertFetcher;
  /** Visits an SNS SubscribeURL to confirm a subscription (only ever called with an SNS host URL). */
  confirmSubscription: (subscribeUrl: string) => Promise<void>;
  /** Counts a request refused from an enabled source (bad credentials, signature, body): outcome `rejected`. */
  onOutcome?: (source: AlertSource, outcome: AlertOutcome) => void;
  /** Flood limits (alerts per request, per source, per host); none when absent. */
  limits?: AlertIntakeLimits;
}

/** Seconds a sender is asked to wait when the queue is full (Alertmanager and Grafana retry by themselves). */
const queueFullRetryAfterSeconds = 30;

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function hmacHeaders(req: IncomingMessage): { signature: string | undefined; timestamp: string | undefined } {
  return { signature: header(req, 'x-ward-signature'), timestamp: header(req, 'x-ward-timestamp') };
}

/**
 * `POST /alerts/:source` for every source in src/alerts/sources/index.ts, authenticated as the source declares:
 * bearer token, bearer token or HMAC signature, or SNS message signature + topic allow-list. Answers: 202 once every
 * alert is recorded durably; 400 naming the failing field; 401 unauthenticated, stale or replayed (checked before
 * the body is read wherever the headers can prove it); 403 SNS topic not allowed; 404 unknown or disabled source;
 * 413 body over WARD_ALERT_MAX_BODY_BYTES or more alerts than WARD_ALERT_MAX_PER_REQUEST; 429 with Retry-After when
 * the source is over its rate limit, the queue is full, or too many unauthenticated bodies are in flight (503 when
 * that limit is the total); 503 when the store cannot record (the sender retries). A body slower than
 * WARD_HTTP_BODY_TIMEOUT_MS has its connection dropped. An SNS MessageId seen before is answered 200 without
 * processing it again (SNS redelivers; that is not an error).
 */
export function registerAlertRoutes(routes: HttpRoutes, o: AlertRoutesOptions): void {
  /** Per SNS-signed source, the topics it accepts (WARD_ALERT_SNS_TOPICS). */
  const snsTopics = new Map<AlertSource, Set<string>>();
  for (const spec of alertSourceModules) {
    if (spec.auth.kind === 'sns-signature') {
      snsTopics.set(spec.name, new Set(listValue(o.config[spec.auth.topics])));
    }
  }
  const snsMaxAgeMs = o.config.WARD_ALERT_SNS_MAX_AGE_SECONDS * 1000;
  const hmacWindowMs = o.config.WARD_ALERT_HMAC_WINDOW_SECONDS * 1000;

  routes.add('POST', '/alerts/:source', async (req: IncomingMessage, res: ServerResponse, params) => {
    const requested = params['source'] ?? '';
    // Made on first use: an accepted alert logs nothing (it is audited and counted), and a child logger per request
    // was a measurable share of a storm's cost.
    let childLog: Logger | undefined;
    const log = (): Logger => {
      childLog ??= o.log.child({ component: 'alerts', source: requested });
      return childLog;
    };
    const spec = findAlertSource(requested);
    if (spec === undefined || !isAlertSourceEnabled(spec, o.config)) {
      // Not counted: the path is the sender's choice, and a metric label must not be.
      sendJson(res, 404, { error: `alert source ${JSON.stringify(requested)} is not enabled` });
      return;
    }
    const source = spec.name;
    const auth = spec.auth;
    /** The HMAC secret a bearer-or-hmac source also accepts, when set. */
    const hmacSecret = auth.kind === 'bearer-or-hmac' ? o.config[auth.hmacSecret] : undefined;
    /** Refuses the request (4xx naming what is wrong) and counts it against its source. */
    const refuse = (status: number, body: Record<string, unknown>): void => {
      o.onOutcome?.(source, 'rejected');
      sendJson(res, status, body);
    };
    /** Nothing was recorded (the store is down): the sender retries. */
    const unavailable = (err: unknown): void => {
      log().error({ err }, 'could not record alerts');
      sendJson(res, 503, { error: 'ward could not record the alerts; retry' });
    };

    // Authenticate everything the headers can prove before reading a byte of the body: a request without a valid
    // bearer token (or, on bearer-or-hmac sources, well-formed fresh HMAC headers) costs ward no memory. SNS
    // messages carry their proof in the body.
    let authenticated = false;
    if (auth.kind !== 'sns-signature') {
      authenticated = checkBearer(header(req, 'authorization'), o.config[auth.token] ?? '');
      if (!authenticated) {
        const pre =
          hmacSecret === undefined
            ? undefined
            : checkHmacHeaders(hmacHeaders(req), hmacSecret, o.clock.now(), hmacWindowMs);
        if (pre?.ok !== true) {
          if (pre !== undefined) log().info({ reason: pre.reason }, `${source} alert signature refused`);
          o.onOutcome?.(source, 'rejected');
          refuseUnread(res, 401, {
            error:
              pre?.reason === 'stale'
                ? `X-Ward-Timestamp is more than ${hmacWindowMs / 1000} s from ward's clock`
                : 'missing or invalid credentials',
          });
          return;
        }
      }
    }

    // Bodies of senders not authenticated yet (HMAC, SNS) are capped in number, per address and in total.
    const release = authenticated ? undefined : routes.admitUnauthenticatedBody(req, res);
    if (!authenticated && release === undefined) {
      o.onOutcome?.(source, 'rejected');
      return;
    }
    /** The one-use claim on this message or signature; given back when the alerts are not recorded (4xx/503). */
    let claim: OnceClaim | null = null;
    let raw: Buffer;
    try {
      raw = await readBody(req, o.config.WARD_ALERT_MAX_BODY_BYTES, routes.limits.bodyTimeoutMs);
    } catch (err) {
      o.onOutcome?.(source, 'rejected');
      if (err instanceof BodyTooLargeError) {
        refuseUnread(res, 413, { error: `body larger than ${err.maxBytes} bytes` });
        return;
      }
      if (err instanceof BodyTimeoutError) {
        log().info({ timeoutMs: err.timeoutMs }, 'alert body too slow; connection dropped');
        return;
      }
      throw err;
    } finally {
      release?.();
    }

    if (!authenticated && hmacSecret !== undefined) {
      const check = checkHmacSignature(raw, hmacHeaders(req), hmacSecret, o.clock.now(), hmacWindowMs);
      if (!check.ok) {
        log().info({ reason: check.reason }, `${source} alert signature refused`);
        refuse(401, { error: 'missing or invalid credentials' });
        return;
      }
      // Within its window a valid signature is used once: a captured request posted again is refused.
      // The key lives 2 windows: a timestamp a full window ahead stays acceptable for 2 windows.
      try {
        claim = await claimOnce(o.store, hmacSignatureKey(check.signature), 2 * hmacWindowMs);
      } catch (err) {
        unavailable(err);
        return;
      }
      if (claim === null) {
        log().warn({ reason: 'replayed' }, `${source} alert signature refused: already used`);
        refuse(401, { error: 'replayed signature: each signed request is accepted once' });
        return;
      }
    }

    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      refuse(400, { error: 'body is not JSON' });
      return;
    }
    /** 413 naming the limit; checked before parsing too, so an oversized batch costs no parse. */
    const tooMany = (count: number | undefined): boolean => {
      const max = o.limits?.limits.maxPerRequest;
      if (max === undefined || count === undefined || count <= max) return false;
      refuse(413, {
        error: `${count} alerts in one request; at most ${max} (WARD_ALERT_MAX_PER_REQUEST): split the batch`,
        field: 'alerts',
        limit: max,
      });
      return true;
    };
    if (tooMany(declaredAlertCount(body))) {
      await claim?.release();
      return;
    }

    let alerts: Alert[];
    try {
      if (auth.kind === 'sns-signature') {
        const msg = parseSnsEnvelope(body);
        if (!snsTopics.get(source)?.has(msg.TopicArn)) {
          refuse(403, { error: `TopicArn is not one of ${auth.topics}` });
          return;
        }
        await verifySnsSignature(msg, o.fetchCert);
        const fresh = checkSnsTimestamp(msg.Timestamp, o.clock.now(), snsMaxAgeMs);
        if (!fresh.ok) {
          log().warn(
            { reason: fresh.reason, messageId: msg.MessageId },
            `SNS message refused: ${fresh.detail}`,
          );
          refuse(401, { error: `SNS message refused: ${fresh.detail}` });
          return;
        }
        // SNS delivers at least once: a MessageId seen within the window is answered 2xx and not processed again.
        claim = await claimOnce(o.store, snsMessageKey(msg.MessageId), snsMaxAgeMs + snsMaxFutureSkewMs);
        if (claim === null) {
          o.onOutcome?.(source, 'redelivered');
          log().info(
            { messageId: msg.MessageId, type: msg.Type },
            'SNS message already received; not processed again',
          );
          sendJson(res, 200, { duplicate: true });
          return;
        }
        if (msg.Type === 'SubscriptionConfirmation') {
          if (!isSnsUrl(msg.SubscribeURL)) {
            refuse(400, { error: 'SubscribeURL: not an SNS URL' });
            return;
          }
          await o.confirmSubscription(msg.SubscribeURL);
          log().info({ topic: msg.TopicArn }, 'SNS subscription confirmed');
          sendJson(res, 200, { confirmed: true });
          return;
        }
        // Verified, fresh and new: the source parses it (a Notification's alerts; none for the handshakes).
        alerts = spec.parse(body);
      } else {
        alerts = spec.parse(body);
      }
    } catch (err) {
      await claim?.release();
      if (err instanceof PayloadError) {
        refuse(400, { error: err.userMessage, field: err.field });
        return;
      }
      if (err instanceof SnsVerificationError) {
        log().warn({ reason: err.reason, err }, 'SNS message refused');
        refuse(401, { error: 'SNS signature could not be verified' });
        return;
      }
      if (err instanceof StoreUnavailableError) {
        unavailable(err);
        return;
      }
      throw err;
    }

    if (tooMany(alerts.length)) {
      await claim?.release();
      return;
    }

    let overHostLimit: boolean[] | undefined;
    try {
      if (o.limits !== undefined && alerts.length > 0) {
        const admission = await o.limits.admit(source, alerts);
        if (!admission.ok) {
          log().warn(
            { count: alerts.length, lane: admission.lane },
            'alerts refused: source over its rate limit',
          );
          res.setHeader('retry-after', String(admission.retryAfterSeconds));
          refuse(429, {
            error: `${source} sent more than ${admission.limit} ${admission.lane === 'urgent' ? 'critical ' : ''}alerts this minute (WARD_ALERT_RATE_PER_SOURCE); nothing was recorded, retry later`,
            limit: admission.limit,
            retryAfterSeconds: admission.retryAfterSeconds,
          });
          // The sender retries this same request: its one-use signature or MessageId must still be usable then.
          await claim?.release();
          return;
        }
        overHostLimit = admission.overHostLimit;
      }
      // Every source's fields are capped here, once, before rules, dedupe records or Slack see them.
      await o.relay.accept(alerts.map(capAlertFields), overHostLimit === undefined ? {} : { overHostLimit });
    } catch (err) {
      await claim?.release();
      if (err instanceof AlertQueueFullError) {
        log().warn({ count: alerts.length, max: err.max }, 'alerts refused: the queue is full');
        res.setHeader('retry-after', String(queueFullRetryAfterSeconds));
        refuse(429, {
          error: err.userMessage,
          limit: err.max,
          retryAfterSeconds: queueFullRetryAfterSeconds,
        });
        return;
      }
      unavailable(err);
      return;
    }
    o.log.debug({ component: 'alerts', source, count: alerts.length }, 'alerts accepted');
    sendJson(res, 202, { accepted: alerts.length });
  });
}

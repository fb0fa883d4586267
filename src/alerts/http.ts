import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import {
  BodyTimeoutError,
  BodyTooLargeError,
  type HttpRoutes,
  readBody,
  refuseUnread,
  sendJson,
} from '../http/server.js';
import type { Alert, AlertSource } from './alert.js';
import { parseAlertmanager } from './alertmanager.js';
import { checkBearer, checkHmacHeaders, checkHmacSignature } from './auth.js';
import { parseFalco } from './falco.js';
import { parseGeneric } from './generic.js';
import { parseGrafana } from './grafana.js';
import { type AlertIntakeLimits, declaredAlertCount } from './intake-limits.js';
import { PayloadError } from './payload-error.js';
import { AlertQueueFullError } from './queue.js';
import type { AlertOutcome, AlertRelay } from './relay.js';
import {
  type CertFetcher,
  isSnsUrl,
  parseSnsEnvelope,
  SnsVerificationError,
  snsNotificationAlerts,
  verifySnsSignature,
} from './sns.js';

type AlertConfig = Pick<
  Config,
  | 'WARD_ALERT_TOKEN_ALERTMANAGER'
  | 'WARD_ALERT_TOKEN_GRAFANA'
  | 'WARD_ALERT_TOKEN_FALCO'
  | 'WARD_ALERT_TOKEN_GENERIC'
  | 'WARD_ALERT_HMAC_SECRET_GENERIC'
  | 'WARD_ALERT_SNS_TOPICS'
  | 'WARD_ALERT_MAX_BODY_BYTES'
>;

export interface AlertRoutesOptions {
  config: AlertConfig;
  relay: Pick<AlertRelay, 'accept'>;
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

const bearerSources = {
  alertmanager: { token: 'WARD_ALERT_TOKEN_ALERTMANAGER', parse: parseAlertmanager },
  grafana: { token: 'WARD_ALERT_TOKEN_GRAFANA', parse: parseGrafana },
  falco: { token: 'WARD_ALERT_TOKEN_FALCO', parse: parseFalco },
  generic: { token: 'WARD_ALERT_TOKEN_GENERIC', parse: (body: unknown) => parseGeneric(body) },
} as const;

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function hmacHeaders(req: IncomingMessage): { signature: string | undefined; timestamp: string | undefined } {
  return { signature: header(req, 'x-ward-signature'), timestamp: header(req, 'x-ward-timestamp') };
}

/**
 * `POST /alerts/:source` for alertmanager, grafana, falco, generic (bearer token; generic also HMAC) and sns
 * (message signature + topic allow-list). Answers: 202 once every alert is recorded durably; 400 naming the
 * failing field; 401 unauthenticated (checked before the body is read wherever the headers can prove it); 403 SNS
 * topic not allowed; 404 unknown or disabled source; 413 body over WARD_ALERT_MAX_BODY_BYTES or more alerts than
 * WARD_ALERT_MAX_PER_REQUEST; 429 with Retry-After when the source is over its rate limit, the queue is full, or too
 * many unauthenticated bodies are in flight (503 when that limit is the total); 503 when the store cannot record
 * (the sender retries). A body slower than WARD_HTTP_BODY_TIMEOUT_MS has its connection dropped.
 */
export function registerAlertRoutes(routes: HttpRoutes, o: AlertRoutesOptions): void {
  const snsTopics = new Set(
    (o.config.WARD_ALERT_SNS_TOPICS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );

  routes.add('POST', '/alerts/:source', async (req: IncomingMessage, res: ServerResponse, params) => {
    const source = params['source'] ?? '';
    const log = o.log.child({ component: 'alerts', source });
    const known = source === 'sns' || Object.hasOwn(bearerSources, source);
    const enabled =
      source === 'sns'
        ? snsTopics.size > 0
        : known &&
          (o.config[bearerSources[source as keyof typeof bearerSources].token] !== undefined ||
            (source === 'generic' && o.config.WARD_ALERT_HMAC_SECRET_GENERIC !== undefined));
    if (!known || !enabled) {
      // Not counted: the path is the sender's choice, and a metric label must not be.
      sendJson(res, 404, { error: `alert source ${JSON.stringify(source)} is not enabled` });
      return;
    }
    /** Refuses the request (4xx naming what is wrong) and counts it against its source. */
    const refuse = (status: number, body: Record<string, unknown>): void => {
      o.onOutcome?.(source as AlertSource, 'rejected');
      sendJson(res, status, body);
    };

    // Authenticate everything the headers can prove before reading a byte of the body: a request without a valid
    // bearer token (or, on generic, well-formed fresh HMAC headers) costs ward no memory.
    let authenticated = false;
    if (source !== 'sns') {
      const spec = bearerSources[source as keyof typeof bearerSources];
      authenticated = checkBearer(header(req, 'authorization'), o.config[spec.token] ?? '');
      const hmacSecret = source === 'generic' ? o.config.WARD_ALERT_HMAC_SECRET_GENERIC : undefined;
      if (!authenticated) {
        const pre =
          hmacSecret === undefined
            ? undefined
            : checkHmacHeaders(hmacHeaders(req), hmacSecret, o.clock.now());
        if (pre?.ok !== true) {
          if (pre !== undefined) log.info({ reason: pre.reason }, 'generic alert signature refused');
          o.onOutcome?.(source as AlertSource, 'rejected');
          refuseUnread(res, 401, { error: 'missing or invalid credentials' });
          return;
        }
      }
    }

    // Bodies of senders not authenticated yet (HMAC, SNS) are capped in number, per address and in total.
    const release = authenticated ? undefined : routes.admitUnauthenticatedBody(req, res);
    if (!authenticated && release === undefined) {
      o.onOutcome?.(source as AlertSource, 'rejected');
      return;
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, o.config.WARD_ALERT_MAX_BODY_BYTES, routes.limits.bodyTimeoutMs);
    } catch (err) {
      o.onOutcome?.(source as AlertSource, 'rejected');
      if (err instanceof BodyTooLargeError) {
        refuseUnread(res, 413, { error: `body larger than ${err.maxBytes} bytes` });
        return;
      }
      if (err instanceof BodyTimeoutError) {
        log.info({ timeoutMs: err.timeoutMs }, 'alert body too slow; connection dropped');
        return;
      }
      throw err;
    } finally {
      release?.();
    }

    if (!authenticated && source === 'generic' && o.config.WARD_ALERT_HMAC_SECRET_GENERIC !== undefined) {
      const check = checkHmacSignature(
        raw,
        hmacHeaders(req),
        o.config.WARD_ALERT_HMAC_SECRET_GENERIC,
        o.clock.now(),
      );
      if (!check.ok) {
        log.info({ reason: check.reason }, 'generic alert signature refused');
        refuse(401, { error: 'missing or invalid credentials' });
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
    if (tooMany(declaredAlertCount(body))) return;

    let alerts: Alert[];
    try {
      if (source === 'sns') {
        const msg = parseSnsEnvelope(body);
        if (!snsTopics.has(msg.TopicArn)) {
          refuse(403, { error: 'TopicArn is not one of WARD_ALERT_SNS_TOPICS' });
          return;
        }
        await verifySnsSignature(msg, o.fetchCert);
        if (msg.Type === 'SubscriptionConfirmation') {
          if (!isSnsUrl(msg.SubscribeURL)) {
            refuse(400, { error: 'SubscribeURL: not an SNS URL' });
            return;
          }
          await o.confirmSubscription(msg.SubscribeURL);
          log.info({ topic: msg.TopicArn }, 'SNS subscription confirmed');
          sendJson(res, 200, { confirmed: true });
          return;
        }
        alerts = msg.Type === 'Notification' ? snsNotificationAlerts(msg) : [];
      } else {
        alerts = bearerSources[source as keyof typeof bearerSources].parse(body);
      }
    } catch (err) {
      if (err instanceof PayloadError) {
        refuse(400, { error: err.userMessage, field: err.field });
        return;
      }
      if (err instanceof SnsVerificationError) {
        log.warn({ reason: err.reason, err }, 'SNS message refused');
        refuse(401, { error: 'SNS signature could not be verified' });
        return;
      }
      throw err;
    }

    if (tooMany(alerts.length)) return;

    let overHostLimit: boolean[] | undefined;
    try {
      if (o.limits !== undefined && alerts.length > 0) {
        const admission = await o.limits.admit(source as AlertSource, alerts);
        if (!admission.ok) {
          log.warn(
            { count: alerts.length, lane: admission.lane },
            'alerts refused: source over its rate limit',
          );
          res.setHeader('retry-after', String(admission.retryAfterSeconds));
          refuse(429, {
            error: `${source} sent more than ${admission.limit} ${admission.lane === 'urgent' ? 'critical ' : ''}alerts this minute (WARD_ALERT_RATE_PER_SOURCE); nothing was recorded, retry later`,
            limit: admission.limit,
            retryAfterSeconds: admission.retryAfterSeconds,
          });
          return;
        }
        overHostLimit = admission.overHostLimit;
      }
      await o.relay.accept(alerts, overHostLimit === undefined ? {} : { overHostLimit });
    } catch (err) {
      if (err instanceof AlertQueueFullError) {
        log.warn({ count: alerts.length, max: err.max }, 'alerts refused: the queue is full');
        res.setHeader('retry-after', String(queueFullRetryAfterSeconds));
        refuse(429, {
          error: err.userMessage,
          limit: err.max,
          retryAfterSeconds: queueFullRetryAfterSeconds,
        });
        return;
      }
      log.error({ err }, 'could not record alerts');
      sendJson(res, 503, { error: 'ward could not record the alerts; retry' });
      return;
    }
    log.info({ count: alerts.length }, 'alerts accepted');
    sendJson(res, 202, { accepted: alerts.length });
  });
}

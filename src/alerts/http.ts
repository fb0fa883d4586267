import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import { StoreUnavailableError } from '../errors.js';
import { BodyTooLargeError, type HttpRoutes, readBody, sendJson } from '../http/server.js';
import type { Store } from '../ports/store.js';
import { type Alert, type AlertSource, capAlertFields } from './alert.js';
import { parseAlertmanager } from './alertmanager.js';
import { checkBearer, checkHmacSignature } from './auth.js';
import { parseFalco } from './falco.js';
import { parseGeneric } from './generic.js';
import { parseGrafana } from './grafana.js';
import { PayloadError } from './payload-error.js';
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
  | 'WARD_ALERT_SNS_MAX_AGE_SECONDS'
  | 'WARD_ALERT_HMAC_WINDOW_SECONDS'
>;

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
}

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

/**
 * `POST /alerts/:source` for alertmanager, grafana, falco, generic (bearer token; generic also HMAC) and sns
 * (message signature + topic allow-list). Answers: 202 once every alert is recorded durably; 400 naming the
 * failing field; 401 unauthenticated, stale or replayed; 403 SNS topic not allowed; 404 unknown or disabled
 * source; 413 body over WARD_ALERT_MAX_BODY_BYTES; 503 when the store cannot record (the sender retries). An SNS
 * MessageId seen before is answered 200 without processing it again (SNS redelivers; that is not an error).
 */
export function registerAlertRoutes(routes: HttpRoutes, o: AlertRoutesOptions): void {
  const snsTopics = new Set(
    (o.config.WARD_ALERT_SNS_TOPICS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
  const snsMaxAgeMs = o.config.WARD_ALERT_SNS_MAX_AGE_SECONDS * 1000;
  const hmacWindowMs = o.config.WARD_ALERT_HMAC_WINDOW_SECONDS * 1000;

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
    /** Nothing was recorded (the store is down): the sender retries. */
    const unavailable = (err: unknown): void => {
      log.error({ err }, 'could not record alerts');
      sendJson(res, 503, { error: 'ward could not record the alerts; retry' });
    };

    /** The one-use claim on this message or signature; given back when the alerts cannot be recorded (503). */
    let claim: OnceClaim | null = null;
    let raw: Buffer;
    try {
      raw = await readBody(req, o.config.WARD_ALERT_MAX_BODY_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        refuse(413, { error: `body larger than ${err.maxBytes} bytes` });
        req.resume();
        return;
      }
      throw err;
    }

    if (source !== 'sns') {
      const spec = bearerSources[source as keyof typeof bearerSources];
      const token = o.config[spec.token] ?? '';
      let ok = checkBearer(header(req, 'authorization'), token);
      if (!ok && source === 'generic' && o.config.WARD_ALERT_HMAC_SECRET_GENERIC !== undefined) {
        const check = checkHmacSignature(
          raw,
          { signature: header(req, 'x-ward-signature'), timestamp: header(req, 'x-ward-timestamp') },
          o.config.WARD_ALERT_HMAC_SECRET_GENERIC,
          o.clock.now(),
          hmacWindowMs,
        );
        if (!check.ok) log.info({ reason: check.reason }, 'generic alert signature refused');
        if (!check.ok && check.reason === 'stale') {
          refuse(401, { error: `X-Ward-Timestamp is more than ${hmacWindowMs / 1000} s from ward's clock` });
          return;
        }
        if (check.ok) {
          // Within its window a valid signature is used once: a captured request posted again is refused.
          // The key lives 2 windows: a timestamp a full window ahead stays acceptable for 2 windows.
          try {
            claim = await claimOnce(o.store, hmacSignatureKey(check.signature), 2 * hmacWindowMs);
          } catch (err) {
            unavailable(err);
            return;
          }
          if (claim === null) {
            log.warn({ reason: 'replayed' }, 'generic alert signature refused: already used');
            refuse(401, { error: 'replayed signature: each signed request is accepted once' });
            return;
          }
          ok = true;
        }
      }
      if (!ok) {
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

    let alerts: Alert[];
    try {
      if (source === 'sns') {
        const msg = parseSnsEnvelope(body);
        if (!snsTopics.has(msg.TopicArn)) {
          refuse(403, { error: 'TopicArn is not one of WARD_ALERT_SNS_TOPICS' });
          return;
        }
        await verifySnsSignature(msg, o.fetchCert);
        const fresh = checkSnsTimestamp(msg.Timestamp, o.clock.now(), snsMaxAgeMs);
        if (!fresh.ok) {
          log.warn(
            { reason: fresh.reason, messageId: msg.MessageId },
            `SNS message refused: ${fresh.detail}`,
          );
          refuse(401, { error: `SNS message refused: ${fresh.detail}` });
          return;
        }
        // SNS delivers at least once: a MessageId seen within the window is answered 2xx and not processed again.
        claim = await claimOnce(o.store, snsMessageKey(msg.MessageId), snsMaxAgeMs + snsMaxFutureSkewMs);
        if (claim === null) {
          o.onOutcome?.('sns', 'redelivered');
          log.info(
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
          log.info({ topic: msg.TopicArn }, 'SNS subscription confirmed');
          sendJson(res, 200, { confirmed: true });
          return;
        }
        alerts = msg.Type === 'Notification' ? snsNotificationAlerts(msg) : [];
      } else {
        alerts = bearerSources[source as keyof typeof bearerSources].parse(body);
      }
    } catch (err) {
      await claim?.release();
      if (err instanceof PayloadError) {
        refuse(400, { error: err.userMessage, field: err.field });
        return;
      }
      if (err instanceof SnsVerificationError) {
        log.warn({ reason: err.reason, err: err.message }, 'SNS message refused');
        refuse(401, { error: 'SNS signature could not be verified' });
        return;
      }
      if (err instanceof StoreUnavailableError) {
        unavailable(err);
        return;
      }
      throw err;
    }

    try {
      // Every source's fields are capped here, once, before rules, dedupe records or Slack see them.
      await o.relay.accept(alerts.map(capAlertFields));
    } catch (err) {
      await claim?.release();
      unavailable(err);
      return;
    }
    log.info({ count: alerts.length }, 'alerts accepted');
    sendJson(res, 202, { accepted: alerts.length });
  });
}

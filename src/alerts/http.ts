import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/env.js';
import { BodyTooLargeError, type HttpRoutes, readBody, sendJson } from '../http/server.js';
import type { Logger } from '../ports/logger.js';
import type { Alert, AlertSource } from './alert.js';
import { parseAlertmanager } from './alertmanager.js';
import { checkBearer, checkHmacSignature } from './auth.js';
import { parseFalco } from './falco.js';
import { parseGeneric } from './generic.js';
import { parseGrafana } from './grafana.js';
import { PayloadError } from './payload-error.js';
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
 * failing field; 401 unauthenticated; 403 SNS topic not allowed; 404 unknown or disabled source; 413 body over
 * WARD_ALERT_MAX_BODY_BYTES; 503 when the store cannot record (the sender retries).
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
        );
        ok = check.ok;
        if (!check.ok) log.info({ reason: check.reason }, 'generic alert signature refused');
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
        log.warn({ reason: err.reason, err: err.message }, 'SNS message refused');
        refuse(401, { error: 'SNS signature could not be verified' });
        return;
      }
      throw err;
    }

    try {
      await o.relay.accept(alerts);
    } catch (err) {
      log.error({ err }, 'could not record alerts');
      sendJson(res, 503, { error: 'ward could not record the alerts; retry' });
      return;
    }
    log.info({ count: alerts.length }, 'alerts accepted');
    sendJson(res, 202, { accepted: alerts.length });
  });
}

import type { z } from 'zod';
import type { Alert } from '../alert.js';

/**
 * One environment variable an alert source reads. Every source variable is optional: a source whose variables are
 * unset is disabled (its route answers 404), never open.
 */
export interface SourceEnvVar {
  /** Parses the raw value (src/config/env.ts spreads it into the one env schema). */
  readonly schema: z.ZodType<string | undefined, string | undefined>;
  /** One line for .env.example and docs/configuration.md (test/unit/alerts-sources.test.ts). */
  readonly doc: string;
  /** Never logged nor echoed in a config error (SECRET_VARS). */
  readonly secret: boolean;
}

/**
 * How a source proves who sent a request; src/alerts/http.ts implements each kind once:
 * - `bearer`: `Authorization: Bearer <value of token>`, checked before the body is read;
 * - `bearer-or-hmac`: the same, or `X-Ward-Timestamp` + `X-Ward-Signature` over the raw body with the secret in
 *   `hmacSecret` (fresh, each signature used once; see src/alerts/auth.ts);
 * - `sns-signature`: no credentials in the request; the message's AWS signature is verified against SNS's
 *   certificate, its TopicArn must be listed in `topics` (comma-separated), its Timestamp fresh and its MessageId
 *   new.
 * Each field names the variable (of the source's own `env`) holding the value.
 */
export type SourceAuth<E extends string> =
  | { readonly kind: 'bearer'; readonly token: E }
  | { readonly kind: 'bearer-or-hmac'; readonly token: E; readonly hmacSecret: E }
  | { readonly kind: 'sns-signature'; readonly topics: E };

export type SourceAuthKind = SourceAuth<string>['kind'];

/**
 * An alert source: everything ward knows about one sender, in one module under src/alerts/sources/, listed once in
 * src/alerts/sources/index.ts. From that list come the route `POST /alerts/<name>`, the `source` of its alerts (the
 * rules' `source:` matcher and the `ward_alerts_total{source}` label), and the env schema entries for its variables.
 */
export interface AlertSourceModule<N extends string = string, E extends string = string> {
  /** Lowercase path segment: `POST /alerts/<name>`. */
  readonly name: N;
  /** The sender as people know it, for documentation ("Prometheus Alertmanager (webhook v4)"). */
  readonly title: string;
  /** Every variable the source reads. */
  readonly env: { readonly [K in E]: SourceEnvVar };
  readonly auth: SourceAuth<NoInfer<E>>;
  /**
   * The request body (parsed JSON) as alerts. Throws PayloadError naming the failing field (→ 400). For
   * `sns-signature` sources this runs after the signature, topic and freshness checks.
   */
  parse(body: unknown): Alert[];
}

/** Declares a source; an identity function that keeps `name` and the variable names as literal types. */
export function defineAlertSource<const N extends string, const E extends string>(
  source: AlertSourceModule<N, E>,
): AlertSourceModule<N, E> {
  return source;
}

/** How each authentication kind reads in the source table of docs/alerts.md (test/unit/alerts-sources.test.ts). */
export const sourceAuthDescriptions: Readonly<Record<SourceAuthKind, string>> = {
  bearer: 'bearer token',
  'bearer-or-hmac': 'bearer token or HMAC signature',
  'sns-signature': 'SNS message signature + topic allow-list',
};

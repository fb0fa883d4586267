import { createHmac } from 'node:crypto';
import { MfaUnavailableError } from '../../errors.js';
import type { MfaOutcome, MfaProvider, MfaStatus } from '../../ports/mfa.js';
import type { Store } from '../../ports/store.js';

export interface DuoOptions {
  /** `api-XXXXXXXX.duosecurity.com`: part of every signature, even when `baseUrl` points elsewhere. */
  apiHost: string;
  ikey: string;
  skey: string;
  /** Default `https://<apiHost>`; DUO_API_URL overrides it (a test server). */
  baseUrl?: string | undefined;
  /** How long to wait for the person to answer the push (Duo itself gives up after about 60 s). */
  timeoutMs?: number;
  /**
   * Push-fatigue limits, kept in the store so that every replica shares them: at most one push waiting per person
   * (`ward:duo:pending:<user>`, taken with setIfAbsent) and at most `maxPushesPerHour` pushes per person in an
   * hour (`ward:duo:pushes:<user>`, an atomic counter that expires an hour after the first push). Without a store,
   * no limit applies (unit tests of the Duo protocol).
   */
  limits?: { store: Store; maxPushesPerHour: number };
}

const HOUR_MS = 60 * 60_000;
const pendingKey = (user: string) => `ward:duo:pending:${user}`;
const countKey = (user: string) => `ward:duo:pushes:${user}`;

/** RFC 3986 percent-encoding, as Duo's canonical string wants it (space is %20, `~` is left alone). */
function encode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `k=v&…` with keys sorted and both sides encoded: the last line of the canonical string, and the body. */
export function duoParams(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${encode(k)}=${encode(params[k]!)}`)
    .join('&');
}

/**
 * Duo's request signature (Auth API v2): HMAC-SHA1, keyed with the secret key, over the lines date, METHOD,
 * host (lower case), path and the sorted encoded parameters; sent as HTTP Basic `ikey:hexsignature`.
 */
export function signDuoRequest(
  options: { ikey: string; skey: string; apiHost: string },
  request: { method: string; path: string; params: Record<string, string>; date: string },
): string {
  const canonical = [
    request.date,
    request.method.toUpperCase(),
    options.apiHost.toLowerCase(),
    request.path,
    duoParams(request.params),
  ].join('\n');
  const signature = createHmac('sha1', options.skey).update(canonical).digest('hex');
  return `Basic ${Buffer.from(`${options.ikey}:${signature}`).toString('base64')}`;
}

/** An RFC 2822 date as Duo's own clients send it. */
function rfc2822(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '-0000');
}

interface DuoAnswer {
  stat: 'OK' | 'FAIL';
  response?: { result?: string; status?: string; status_msg?: string };
  code?: number;
  message?: string;
}

/**
 * Duo push through the Auth API. The person's Duo username is their Slack user id (add it as a username alias
 * in Duo). `/auth/v2/auth` with `factor=push` blocks until the person answers or Duo gives up.
 */
export class DuoMfa implements MfaProvider {
  readonly name = 'duo' as const;
  readonly kind = 'push' as const;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: DuoOptions) {
    this.baseUrl = (options.baseUrl ?? `https://${options.apiHost}`).replace(/\/$/, '');
    this.timeoutMs = options.timeoutMs ?? 75_000;
  }

  assertUsable(): void {}

  private async call(
    method: 'GET' | 'POST',
    path: string,
    params: Record<string, string>,
    timeoutMs: number,
  ): Promise<DuoAnswer> {
    const date = rfc2822(new Date());
    const authorization = signDuoRequest(this.options, { method, path, params, date });
    const query = duoParams(params);
    const url = `${this.baseUrl}${path}${method === 'GET' && query ? `?${query}` : ''}`;
    const res = await fetch(url, {
      method,
      headers: {
        Date: date,
        Authorization: authorization,
        ...(method === 'POST' ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(method === 'POST' ? { body: query } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res
      .json()
      .catch(() => ({ stat: 'FAIL', message: `HTTP ${res.status}` }))) as DuoAnswer;
    if (res.status === 401) {
      throw new MfaUnavailableError(
        'Duo refused ward’s credentials (check DUO_IKEY, DUO_SKEY and DUO_API_HOST). Nothing was approved.',
      );
    }
    return body;
  }

  /**
   * Sends a push unless the person already has one waiting or has had their hourly share: an attacker who can make
   * ward ask (or a person clicking again and again) must not be able to flood someone's phone until they approve
   * one by reflex.
   */
  async verify(user: string, proof: { context: string }): Promise<MfaOutcome> {
    const limits = this.options.limits;
    if (!limits) return this.push(user, proof);
    const { store, maxPushesPerHour } = limits;
    // The lock outlives the push's own timeout a little, so that a crashed ward frees it by itself.
    if (!(await store.setIfAbsent(pendingKey(user), String(Date.now()), this.timeoutMs + 15_000))) {
      return {
        ok: false,
        reason: 'push_pending',
        message:
          'A Duo push to you is already waiting for your answer: answer that one (or let it time out) before ward sends another. Nothing was approved.',
      };
    }
    try {
      const sent = await store.incr(countKey(user), HOUR_MS);
      if (sent > maxPushesPerHour) {
        const ttl = await store.ttlMs(countKey(user));
        const minutes = Math.max(1, Math.ceil((ttl ?? HOUR_MS) / 60_000));
        return {
          ok: false,
          reason: 'rate_limited',
          message: `ward already sent you ${maxPushesPerHour} Duo pushes this hour (the limit, against push fatigue): try again in ${minutes} min. If you did not ask for these, tell your security team. Nothing was approved.`,
        };
      }
      return await this.push(user, proof);
    } finally {
      await store.del(pendingKey(user));
    }
  }

  private async push(user: string, proof: { context: string }): Promise<MfaOutcome> {
    let answer: DuoAnswer;
    try {
      answer = await this.call(
        'POST',
        '/auth/v2/auth',
        {
          username: user,
          factor: 'push',
          device: 'auto',
          type: 'ward approval',
          pushinfo: duoParams({ ward: proof.context.slice(0, 200) }),
        },
        this.timeoutMs,
      );
    } catch (err) {
      if (err instanceof MfaUnavailableError) throw err;
      if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
        return {
          ok: false,
          reason: 'timeout',
          message: 'The Duo push was not answered in time. Nothing was approved.',
        };
      }
      throw new MfaUnavailableError('Duo cannot be reached right now. Nothing was approved; try again.', err);
    }
    if (answer.stat !== 'OK') {
      return {
        ok: false,
        reason: 'not_enrolled',
        message: `Duo refused the request (${answer.message ?? 'unknown error'}). Are you enrolled in Duo with your Slack user id as username?`,
      };
    }
    if (answer.response?.result === 'allow') return { ok: true };
    if (answer.response?.status === 'timeout') {
      return {
        ok: false,
        reason: 'timeout',
        message: 'The Duo push was not answered in time. Nothing was approved.',
      };
    }
    return { ok: false, reason: 'denied', message: 'The Duo push was denied. Nothing was approved.' };
  }

  async status(user: string): Promise<MfaStatus> {
    const answer = await this.call('POST', '/auth/v2/preauth', { username: user }, 10_000);
    const result = answer.response?.result;
    return {
      enrolled: answer.stat === 'OK' && (result === 'auth' || result === 'allow'),
      pendingConfirmation: false,
    };
  }
}

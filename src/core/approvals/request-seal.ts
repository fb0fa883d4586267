import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { WardError } from '../../errors.js';
import { canonicalJson } from '../canonical-json.js';
import { deriveSubkey } from '../key-material.js';
import type { ApprovalRequest, RequestStatus } from './request.js';

/**
 * Sealed request records. Every request ward stores under `ward:request:<id>` carries a `seal` field:
 *
 *   seal = "hmac-sha256:" + hex HMAC-SHA256(request key, "ward request record v1\n" + id + "\n" + canonical JSON of
 *          every other field)
 *
 * The request key is derived from WARD_ENCRYPTION_KEY under its own HKDF label (src/core/key-material.ts) and is
 * never stored in Redis. The seal covers the whole record: command, args, plan and its hash, policy and what it
 * requires, votes, factors, status, requester, channel and thread, times, version. ward computes it in Node on
 * every write (RequestStore: create, and each transition's compare-and-set on the whole value), and checks it on
 * every read: a record whose seal does not match is never executed, voted on, confirmed, cancelled or expired.
 *
 * Without WARD_ENCRYPTION_KEY (development, the sandbox) the seal is an unkeyed "sha256:" digest: it catches a
 * record edited by hand or by a tool, not a writer who recomputes it. A ward with a key accepts keyed seals only.
 */

/** HKDF label: the request key is unrelated to the audit key and to the AES key, though all come from one secret. */
const REQUEST_KEY_INFO = 'ward request record hmac-sha256 v1';
const KEYED = 'hmac-sha256:';
const UNKEYED = 'sha256:';

/** The key that seals request records; null: no WARD_ENCRYPTION_KEY, unkeyed digests. */
export type RequestKey = Buffer | null;

let derived: { from: string | undefined; key: RequestKey } | undefined;

/** Derives the request records' key from WARD_ENCRYPTION_KEY (kept for the last key asked for: it is read often). */
export function deriveRequestKey(encryptionKey: string | undefined): RequestKey {
  if (derived === undefined || derived.from !== encryptionKey) {
    derived = {
      from: encryptionKey,
      key: encryptionKey === undefined ? null : deriveSubkey(encryptionKey, REQUEST_KEY_INFO),
    };
  }
  return derived.key;
}

/**
 * Why a stored record is not acted on:
 * - `tampered`: its seal does not match its content (or it is not a request record at all);
 * - `unsealed`: it has no keyed seal (stored before records were sealed, by a ward without a key, or stripped);
 * - `unverifiable`: it has a keyed seal and this ward has no key to check it with.
 */
export type SealProblem = 'tampered' | 'unsealed' | 'unverifiable';

/** What an unverified record claims about itself: only used to say where to report it, never to decide. */
export interface ClaimedPlace {
  status?: string | undefined;
  channel?: string | undefined;
  thread?: string | undefined;
  message?: { channel?: string | undefined; ts?: string | undefined } | undefined;
  command?: string | undefined;
}

export type OpenedRecord =
  | { ok: true; req: ApprovalRequest }
  | { ok: false; problem: SealProblem; claimed: ClaimedPlace };

function sealInput(id: string, body: unknown): string {
  return `ward request record v1\n${id}\n${canonicalJson(body)}`;
}

function sealValue(key: RequestKey, id: string, body: unknown): string {
  const input = sealInput(id, body);
  return key === null
    ? `${UNKEYED}${createHash('sha256').update(input).digest('hex')}`
    : `${KEYED}${createHmac('sha256', key).update(input).digest('hex')}`;
}

/** The stored text of a request: its JSON with the seal. */
export function sealRecord(key: RequestKey, req: ApprovalRequest): string {
  // Sealed over exactly what a reader will parse back (undefined members dropped, as JSON does).
  const body = JSON.parse(JSON.stringify(req)) as Record<string, unknown>;
  delete body['seal'];
  return JSON.stringify({ ...body, seal: sealValue(key, req.id, body) });
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function claimedPlace(body: Record<string, unknown>): ClaimedPlace {
  const message = body['message'];
  const m =
    typeof message === 'object' && message !== null ? (message as Record<string, unknown>) : undefined;
  return {
    status: str(body['status']),
    channel: str(body['channel']),
    thread: str(body['thread']),
    message: m && { channel: str(m['channel']), ts: str(m['ts']) },
    command: str(body['command']),
  };
}

function equalText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Parses and checks a stored record read under `ward:request:<id>`. */
export function openRecord(key: RequestKey, id: string, raw: string): OpenedRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { ok: false, problem: 'tampered', claimed: {} };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, problem: 'tampered', claimed: {} };
  }
  const { seal, ...body } = parsed as Record<string, unknown>;
  const claimed = claimedPlace(body);
  const fail = (problem: SealProblem): OpenedRecord => ({ ok: false, problem, claimed });
  if (typeof seal !== 'string') return fail('unsealed');
  if (seal.startsWith(KEYED)) {
    if (key === null) return fail('unverifiable');
  } else if (seal.startsWith(UNKEYED)) {
    // A ward with a key writes keyed seals only: an unkeyed one is a record from before, or a downgrade.
    if (key !== null) return fail('unsealed');
  } else {
    return fail('tampered');
  }
  if (!equalText(seal, sealValue(key, id, body)) || body['id'] !== id) return fail('tampered');
  return { ok: true, req: body as unknown as ApprovalRequest };
}

/** Statuses after which nothing more happens to a request. */
const FINAL: ReadonlySet<RequestStatus> = new Set<RequestStatus>([
  'succeeded',
  'dry_run',
  'failed',
  'partial',
  'interrupted',
  'denied',
  'cancelled',
  'expired',
  'plan_changed',
]);

/** Whether a record's (unverified) claimed status is final: an unsealed final record is old history, not an attack. */
export function claimsFinal(claimed: ClaimedPlace): boolean {
  return FINAL.has(claimed.status as RequestStatus);
}

/** What people are told about a record ward will not act on (the click's answer, `/ward status`, `/ward cancel`). */
export function explainSealProblem(id: string, problem: SealProblem): string {
  switch (problem) {
    case 'tampered':
      return `Request \`${id}\` was modified outside ward; nothing was run. Its stored record no longer matches the seal ward wrote with it, so ward will not run it, count votes or MFA on it, or cancel it. Check who can write to ward's Redis, and make a new request if the change is still needed.`;
    case 'unsealed':
      return `Request \`${id}\` has no seal from this ward; nothing was run. It was stored by a ward from before request records were sealed (or without WARD_ENCRYPTION_KEY), or modified outside ward, so ward will not run it or count votes or MFA on it. Make a new request if the change is still needed.`;
    case 'unverifiable':
      return `Request \`${id}\` was sealed with a key this ward does not have (WARD_ENCRYPTION_KEY is not set), so ward cannot check it and will not run it or count votes or MFA on it; nothing was run.`;
  }
}

/** A stored request failed its check: nothing may act on it. Its userMessage is the answer to whoever asked. */
export class TamperedRequestError extends WardError {
  constructor(
    readonly requestId: string,
    readonly problem: SealProblem,
  ) {
    super('ward_request_tampered', explainSealProblem(requestId, problem), {
      message: `request ${requestId}: stored record failed its integrity check (${problem})`,
    });
  }
}

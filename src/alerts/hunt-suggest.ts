import { indicatorText, MAX_INDICATORS, parseIndicator } from '../actions/hunt-indicators.js';
import type { Alert } from './alert.js';

/** Falco output fields (labels) that name an executable or a file. */
const FILE_FIELDS = ['proc.exepath', 'fd.name', 'proc.pexepath'];
/** Auth alerts and Falco name the account in one of these labels. */
const USER_FIELDS = ['user', 'user.name', 'username', 'user.loginname'];
const SHA256 = /\b[0-9a-fA-F]{64}\b/;
const IPV4 = /\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b/g;

/** `remoteIpDetails.ipAddressV4` anywhere in a GuardDuty finding (network, port probe, API call actions). */
function guardDutyIps(raw: unknown, out: Set<string>, depth = 0): void {
  if (depth > 12 || raw === null || typeof raw !== 'object') return;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (k === 'remoteIpDetails' && v && typeof v === 'object') {
      const ip = (v as Record<string, unknown>)['ipAddressV4'];
      if (typeof ip === 'string') out.add(ip);
    } else if (typeof v === 'string' && k === 'Message' && v.startsWith('{')) {
      try {
        guardDutyIps(JSON.parse(v), out, depth + 1);
      } catch {
        // not JSON: nothing to find
      }
    } else {
      guardDutyIps(v, out, depth + 1);
    }
  }
}

/**
 * The indicators a `suggest: [hunt]` button asks the fleet about, derived from the alert: Falco's executable and
 * file paths (and the executable's name), any sha256 in a `*sha256*`/`*hash*` field, GuardDuty's remote IPs, an
 * auth alert's user. Each candidate must pass the same validation as a typed indicator, or it is left out.
 */
export function huntIndicatorsFor(alert: Alert): string[] {
  const candidates: string[] = [];
  const l = alert.labels;
  for (const f of FILE_FIELDS) {
    const v = l[f];
    if (v?.startsWith('/')) candidates.push(`file:${v}`);
  }
  const exe = l['proc.exepath'];
  if (exe?.startsWith('/')) candidates.push(`process:${exe.slice(exe.lastIndexOf('/') + 1)}`);
  for (const [k, v] of Object.entries(l)) {
    if (/sha256|hash/i.test(k)) {
      const m = SHA256.exec(v);
      if (m) candidates.push(`sha256:${m[0]}`);
    }
  }
  if (alert.source === 'sns') {
    const ips = new Set<string>();
    guardDutyIps(alert.raw, ips);
    for (const ip of ips) if (ip.match(IPV4)) candidates.push(`ip:${ip}`);
  }
  for (const f of USER_FIELDS) {
    const v = l[f];
    if (v !== undefined && v !== '' && v !== 'root' && v !== '<NA>') candidates.push(`user:${v}`);
  }
  const out: string[] = [];
  for (const c of candidates) {
    try {
      const t = indicatorText(parseIndicator(c));
      if (!out.includes(t)) out.push(t);
    } catch {
      // not a valid indicator (odd characters in a path or name): leave it out rather than loosen validation
    }
  }
  return out.slice(0, MAX_INDICATORS);
}

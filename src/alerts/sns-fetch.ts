import { isSnsUrl } from './sources/sns.js';

/** Largest signing certificate ward downloads (real SNS certificates are about 2 KB). */
export const maxCertBytes = 64 * 1024;
const fetchTimeoutMs = 5_000;

/**
 * GET over HTTPS with a timeout and a size cap, never following redirects (a redirect could lead off the SNS
 * hosts that `isSnsUrl` allowed). Only ever called with SNS URLs; checked again here so that no caller can make
 * ward fetch anything else.
 */
async function getSns(url: string, maxBytes: number): Promise<string> {
  if (!isSnsUrl(url)) throw new Error('not an SNS URL');
  const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(fetchTimeoutMs) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Fetches an SNS signing certificate (PEM) from its SigningCertURL. */
export function fetchSnsCertificate(url: string): Promise<string> {
  return getSns(url, maxCertBytes);
}

/** Confirms an SNS subscription by visiting its SubscribeURL (SNS answers a small XML document). */
export async function visitSubscribeUrl(url: string): Promise<void> {
  await getSns(url, maxCertBytes);
}

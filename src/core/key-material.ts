import { hkdfSync } from 'node:crypto';

/**
 * ward's one secret, WARD_ENCRYPTION_KEY (64 hex characters or base64 of 32 bytes, validated by loadConfig), and the
 * keys derived from it. Each use gets its own key under its own HKDF label, so that no key serves two purposes: the
 * AES key that seals TOTP secrets is the secret itself; the audit chain's MAC key (src/audit/chain.ts) and the
 * request records' MAC key (src/core/approvals/request-seal.ts) are derived here. None of them is ever stored in
 * Redis.
 */
export function keyMaterial(encryptionKey: string): Buffer {
  return /^[0-9a-fA-F]{64}$/.test(encryptionKey)
    ? Buffer.from(encryptionKey, 'hex')
    : Buffer.from(encryptionKey, 'base64');
}

/** A 32-byte key for one purpose (`label`), derived from WARD_ENCRYPTION_KEY with HKDF-SHA256. */
export function deriveSubkey(encryptionKey: string, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', keyMaterial(encryptionKey), Buffer.alloc(0), label, 32));
}

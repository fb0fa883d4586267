import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { keyMaterial } from '../key-material.js';

/**
 * AES-256-GCM for secrets at rest (TOTP seeds). The associated data binds a ciphertext to its owner, so that a
 * sealed secret copied onto another user's record in Redis does not open.
 * Format: `v1.<iv b64>.<tag b64>.<ciphertext b64>`.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
    this.key = key;
  }

  /** WARD_ENCRYPTION_KEY as 64 hex characters or base64 of 32 bytes (validated by loadConfig). */
  static fromConfig(value: string): SecretBox {
    return new SecretBox(keyMaterial(value));
  }

  seal(plaintext: string, associatedData: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), ct.toString('base64')].join(
      '.',
    );
  }

  /** Throws when the ciphertext was altered, sealed with another key or for another owner. */
  open(sealed: string, associatedData: string): string {
    const [version, iv, tag, ct] = sealed.split('.');
    if (version !== 'v1' || iv === undefined || tag === undefined || ct === undefined) {
      throw new Error('unknown sealed secret format');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8');
  }
}

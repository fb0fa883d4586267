import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** sha256 of a configuration file as read now, for the audit log (null: no file configured or unreadable). */
export function fileSha256(path: string | undefined): string | null {
  if (!path) return null;
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return null;
  }
}

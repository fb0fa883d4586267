import { z } from 'zod';

/**
 * Value schemas shared by src/config/env.ts and the alert sources' own variables (src/alerts/sources/): an unset or
 * blank variable is `undefined`, anything else is trimmed.
 */
export const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

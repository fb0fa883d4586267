/**
 * Canonical JSON: object keys sorted at every depth, undefined members dropped (undefined in an array, or as the
 * whole value, becomes null), so that one value always has one text. The plan hash (what approvers approve) and the
 * audit chain's entries are both hashed over this text: changing it changes every plan hash and breaks every stored
 * chain, so it is pinned by golden tests.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

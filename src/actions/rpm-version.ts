/**
 * rpm's version ordering (rpmvercmp, with epoch and release), so that `package:openssl<1:3.0.7-27.el9` means on a
 * RHEL host what it means to rpm. dpkg hosts compare on the host itself with `dpkg --compare-versions`.
 * Returns -1, 0 or 1.
 */
export function compareRpmVersions(a: string, b: string): number {
  const pa = splitEvr(a);
  const pb = splitEvr(b);
  return (
    segmentCompare(pa.epoch, pb.epoch) ||
    rpmvercmp(pa.version, pb.version) ||
    (pa.release === undefined || pb.release === undefined ? 0 : rpmvercmp(pa.release, pb.release))
  );
}

function splitEvr(evr: string): { epoch: string; version: string; release?: string | undefined } {
  const colon = evr.indexOf(':');
  const epoch = colon === -1 ? '0' : evr.slice(0, colon) || '0';
  const rest = colon === -1 ? evr : evr.slice(colon + 1);
  const dash = rest.lastIndexOf('-');
  return dash === -1
    ? { epoch, version: rest }
    : { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
}

function segmentCompare(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x === y ? 0 : x < y ? -1 : 1;
}

/** librpm's rpmvercmp: alternating numeric/alpha segments, `~` sorts before anything, `^` after the base. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const sep = /[^A-Za-z0-9~^]/;
  while (i < a.length || j < b.length) {
    while (i < a.length && sep.test(a[i]!)) i++;
    while (j < b.length && sep.test(b[j]!)) j++;
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const numeric = /[0-9]/.test(a[i]!);
    const take = (s: string, k: number) => {
      let e = k;
      while (e < s.length && (numeric ? /[0-9]/ : /[A-Za-z]/).test(s[e]!)) e++;
      return e;
    };
    const ei = take(a, i);
    const ej = take(b, j);
    const sa = a.slice(i, ei);
    const sb = b.slice(j, ej);
    // A numeric segment is newer than an alpha one.
    if (sb === '') return numeric ? 1 : -1;
    const c = numeric ? segmentCompare(sa, sb) : sa === sb ? 0 : sa < sb ? -1 : 1;
    if (c !== 0) return c;
    i = ei;
    j = ej;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/**
 * Counts request bodies being read before their sender is authenticated (an HMAC or a signed message needs the
 * body first). Without a cap, anyone who can reach the port holds WARD_ALERT_MAX_BODY_BYTES of ward's memory per
 * connection; with it, at most `maxTotal` bodies (and `maxPerIp` from one address) are in memory at once.
 */
export class PendingBodies {
  private total = 0;
  private readonly byIp = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerIp: number,
  ) {}

  /**
   * Takes a slot for `ip`. Returns a release function (idempotent), or why there is no slot: `ip` when this address
   * already holds its share (answer 429), `total` when ward as a whole is full (answer 503).
   */
  acquire(ip: string): { release: () => void } | { refused: 'ip' | 'total' } {
    const mine = this.byIp.get(ip) ?? 0;
    if (mine >= this.maxPerIp) return { refused: 'ip' };
    if (this.total >= this.maxTotal) return { refused: 'total' };
    this.total += 1;
    this.byIp.set(ip, mine + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.total -= 1;
        const left = (this.byIp.get(ip) ?? 1) - 1;
        if (left <= 0) this.byIp.delete(ip);
        else this.byIp.set(ip, left);
      },
    };
  }

  get inFlight(): number {
    return this.total;
  }
}

/**
 * One-at-a-time execution per key (a Slack channel), with two lanes: a queued urgent task runs before every queued
 * normal one. Tasks of one key never overlap; tasks of different keys never wait for each other. This is what lets
 * a critical alert overtake thousands of queued warnings in the same channel instead of waiting its turn behind
 * them (issue #12: a critical posted 96 s late, inside a storm roll-up).
 */
export class KeyedLanes {
  private readonly keys = new Map<
    string,
    { running: boolean; urgent: Array<() => Promise<void>>; normal: Array<() => Promise<void>> }
  >();

  /** Runs `task` in `key`'s turn (urgent: ahead of every queued normal task). Settles with the task's result. */
  run<T>(key: string, task: () => Promise<T>, urgent = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let lane = this.keys.get(key);
      if (lane === undefined) {
        lane = { running: false, urgent: [], normal: [] };
        this.keys.set(key, lane);
      }
      (urgent ? lane.urgent : lane.normal).push(() => task().then(resolve, reject));
      this.pump(key);
    });
  }

  /** Tasks queued or running for `key` (0 when idle). */
  size(key: string): number {
    const lane = this.keys.get(key);
    return lane === undefined ? 0 : lane.urgent.length + lane.normal.length + (lane.running ? 1 : 0);
  }

  private pump(key: string): void {
    const lane = this.keys.get(key);
    if (lane === undefined || lane.running) return;
    const next = lane.urgent.shift() ?? lane.normal.shift();
    if (next === undefined) {
      // Forget idle keys so the map does not grow with every channel ever used.
      this.keys.delete(key);
      return;
    }
    lane.running = true;
    void next().finally(() => {
      lane.running = false;
      this.pump(key);
    });
  }
}

import type { ExecResult } from '../ports/remote-shell.js';

/** How much of each output stream a command keeps when the caller sets no maxOutputBytes, over SSH and locally. */
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/**
 * One output stream of a remote or local command, keeping at most `maxBytes` and remembering that it dropped the
 * rest, so that a report can say "truncated" instead of presenting part of an artifact as all of it.
 */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  truncated = false;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): void {
    const room = this.maxBytes - this.bytes;
    if (chunk.length > room) {
      this.truncated = true;
      if (room <= 0) return;
      chunk = chunk.subarray(0, room);
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** Appends text that is not command output (ward's own note), whatever the cap. */
  note(text: string): void {
    this.chunks.push(Buffer.from(text));
  }

  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** The result of a finished command from its two streams; a command that timed out has no exit code. */
export function execResult(
  stdout: CappedOutput,
  stderr: CappedOutput,
  code: number | null,
  timedOut: boolean,
  startedMs: number,
): ExecResult {
  return {
    code: timedOut ? null : code,
    stdout: stdout.buffer(),
    stderr: stderr.buffer(),
    truncated: stdout.truncated || stderr.truncated,
    timedOut,
    durationMs: Math.round(performance.now() - startedMs),
  };
}

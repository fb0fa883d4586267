import { createHash, randomBytes } from 'node:crypto';
import { shellQuote } from '../adapters/ssh/shell-quote.js';
import type { ExecResult, ShellSession } from '../ports/remote-shell.js';
import { type ApprovedCommands, checkApproved, type RemoteCommand } from './remote-command.js';

/**
 * One piece of evidence a collection script gathers. `alternatives` are tried in order: the first whose
 * condition holds runs; when none does, the artifact is reported as "not installed" (never as an empty result).
 */
export interface SectionSpec {
  name: string;
  alternatives: Array<{
    /** A tool that must be on PATH, or a file that must be readable; omitted: always runs. */
    when?: { tool: string } | { file: string } | { tools: string[] };
    /** Fixed shell code from this codebase: never user text (values reach it only through the environment). */
    code: string;
  }>;
}

export type ArtifactStatus = 'ok' | 'failed' | 'missing' | 'timed-out' | 'not-received';

/** One collected artifact, as recorded in the manifest. */
export interface Artifact {
  name: string;
  /** The command that produced it (or, when missing, the tools looked for). */
  command: string;
  status: ArtifactStatus;
  exitCode: number | null;
  durationMs: number | null;
  bytes: number;
  sha256: string;
  truncated: boolean;
  content: Buffer;
  note?: string | undefined;
}

/**
 * How far past the run's limit a section may go on the host: the same second the adapter's remote backstop waits
 * after ward gives up, so ward reports the run's timeout (not a section's) and both stop together.
 */
const RUN_GRACE_MS = 1000;

/** Exit status of coreutils `timeout` when it had to stop the command. */
const TIMEOUT_EXIT = 124;

// The runner every collection script starts with. Commands read /dev/null: the script itself arrives on stdin
// and a command that read stdin would swallow the rest of it. `head -c CAP+1` caps each section on the host so
// one huge artifact cannot crowd out the others; the exit code travels through fd 5, the output through fd 4.
// Each section's `timeout` puts it in a process group of its own, out of reach of the remote backstop that kills
// the whole run (the adapter's `timeout -s KILL`, which signals its own group): so a section's limit never runs
// past the whole run's deadline (WARD_RUN_MS from the script's start), or a hung section would outlive the run.
const RUNNER = String.raw`PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LC_ALL=C
export PATH LC_ALL
ward_ms() { t=$(date +%s%N 2>/dev/null); case $t in *N|'') echo $(( $(date +%s) * 1000 ));; *) echo $(( t / 1000000 ));; esac; }
ward_has() { command -v "$1" >/dev/null 2>&1; }
ward_t0=$(ward_ms)
ward_limit() {
  ward_l=$WARD_T
  if [ -n "$WARD_RUN_MS" ]; then
    ward_r=$(( (ward_t0 + WARD_RUN_MS - $(ward_ms) + 999) / 1000 ))
    if [ "$ward_r" -lt 1 ]; then ward_r=1; fi
    if [ "$ward_r" -lt "$ward_l" ]; then ward_l=$ward_r; fi
  fi
  echo "$ward_l"
}
ward_run() {
  printf '\n%s begin %s\t%s\n' "$WARD_B" "$1" "$2"
  ward_s=$(ward_ms)
  if ward_has timeout; then
    ward_rc=$( { { timeout "$(ward_limit)" sh -c "$2" 2>&1 </dev/null; echo $? >&5; } | head -c "$WARD_CAP" >&4; } 5>&1 )
  else
    ward_rc=$( { { sh -c "$2" 2>&1 </dev/null; echo $? >&5; } | head -c "$WARD_CAP" >&4; } 5>&1 )
  fi
  ward_e=$(ward_ms)
  printf '\n%s end %s\t%s\t%s\n' "$WARD_B" "$1" "$ward_rc" "$((ward_e - ward_s))"
}
ward_missing() { printf '\n%s missing %s\t%s\n' "$WARD_B" "$1" "$2"; }
exec 4>&1
`;

function condition(when: SectionSpec['alternatives'][number]['when']): string | undefined {
  if (!when) return undefined;
  if ('tool' in when) return `ward_has ${shellQuote(when.tool)}`;
  if ('tools' in when) return when.tools.map((t) => `ward_has ${shellQuote(t)}`).join(' && ');
  return `test -r ${shellQuote(when.file)}`;
}

function sectionCode(spec: SectionSpec): string {
  const lines: string[] = [];
  let opened = false;
  for (const alt of spec.alternatives) {
    const cond = condition(alt.when);
    const run = `ward_run ${shellQuote(spec.name)} ${shellQuote(alt.code)}`;
    if (cond === undefined) {
      lines.push(opened ? `else ${run}` : run);
      if (opened) lines.push('fi');
      return lines.join('\n');
    }
    lines.push(`${opened ? 'elif' : 'if'} ${cond}; then ${run}`);
    opened = true;
  }
  const wanted = spec.alternatives
    .map((a) =>
      a.when && 'tool' in a.when
        ? a.when.tool
        : a.when && 'tools' in a.when
          ? a.when.tools.join('+')
          : a.when && 'file' in a.when
            ? a.when.file
            : '',
    )
    .filter(Boolean)
    .join(', ');
  lines.push(`else ward_missing ${shellQuote(spec.name)} ${shellQuote(wanted)}`, 'fi');
  return lines.join('\n');
}

/** The fixed part of a collection script: identical for every run, so its hash goes into the plan. */
export function scriptBody(sections: readonly SectionSpec[]): string {
  return `${RUNNER}${sections.map(sectionCode).join('\n')}\n`;
}

/**
 * A collection script as one piece of data: what a plan shows of it (scriptPlanCommand) and what is sent to the
 * host (collectCommand) are both derived from it, so the label an approver reads always carries the sha256 of the
 * body that runs. `detail` says in words what `env` carries (hashed paths, the pid), from the same inputs.
 */
export interface CollectionScript {
  /** e.g. `forensics`, `hunt`, `process evidence`. */
  name: string;
  sections: readonly SectionSpec[];
  detail?: string | undefined;
  /** Variables the fixed script reads (values are validated by the caller and quoted here). */
  env?: Record<string, string> | undefined;
}

export interface CollectOptions {
  /** Per-section cap in bytes (what is kept; one byte more is read to detect truncation). */
  maxSectionBytes: number;
  /** Per-section time limit on the host, in seconds. */
  sectionTimeoutSeconds: number;
  /**
   * The whole run's limit (ward's exec timeout), in ms. On the host, no section is given longer than what is left of
   * it plus RUN_GRACE_MS, so nothing the run started outlives it.
   */
  runTimeoutMs?: number;
}

export interface CollectRun {
  command: RemoteCommand;
  /** The random boundary that delimits sections in this run's output. */
  boundary: string;
}

/** The line a plan shows for a collection: deterministic (no boundary), with the body's hash. */
export function scriptPlanCommand(script: CollectionScript): RemoteCommand {
  return { argv: ['sh', '-s'], stdinLabel: describeScript(script.name, script.sections, script.detail) };
}

/**
 * A `sh -s` command that runs every section on one channel (LAB.md: one channel for all of them is ~10x faster
 * than one exec per command). The stdin starts with a random boundary, unknown to anything on the host before
 * the run, so that a log line cannot forge a section marker. Its display is scriptPlanCommand's.
 */
export function collectCommand(script: CollectionScript, options: CollectOptions): CollectRun {
  const boundary = `@@ward-${randomBytes(16).toString('hex')}`;
  const vars: Record<string, string> = {
    WARD_B: boundary,
    WARD_CAP: String(options.maxSectionBytes + 1),
    WARD_T: String(options.sectionTimeoutSeconds),
    ...(options.runTimeoutMs !== undefined
      ? { WARD_RUN_MS: String(Math.ceil(options.runTimeoutMs) + RUN_GRACE_MS) }
      : {}),
    ...script.env,
  };
  const prelude = Object.entries(vars)
    .map(([k, v]) => `${k}=${shellQuote(v)}; export ${k}`)
    .join('\n');
  return {
    boundary,
    command: { ...scriptPlanCommand(script), stdin: `${prelude}\n${scriptBody(script.sections)}` },
  };
}

/**
 * Runs a collection on one connected host (one channel, `timeoutMs` for the whole run) and splits its output into
 * artifacts. The channel keeps each section's cap plus 4 KiB for its marker lines, so the sections' own caps, not
 * the channel's, decide what is truncated. Refused (PlanMismatchError) unless `approved` shows the script.
 */
export async function runCollection(
  session: ShellSession,
  approved: ApprovedCommands,
  script: CollectionScript,
  options: CollectOptions & { runTimeoutMs: number },
): Promise<{ result: ExecResult; artifacts: Artifact[] }> {
  const run = collectCommand(script, options);
  checkApproved(approved, session.host.name, run.command);
  const result = await session.exec(run.command.argv, {
    stdin: run.command.stdin ?? '',
    timeoutMs: options.runTimeoutMs,
    maxOutputBytes: script.sections.length * (options.maxSectionBytes + 4096),
  });
  const artifacts = parseCollectOutput(result.stdout, run.boundary, script.sections, options.maxSectionBytes);
  return { result, artifacts };
}

/** How a plan shows a collection script: deterministic (the boundary is left out), with the body's hash. */
export function describeScript(label: string, sections: readonly SectionSpec[], detail = ''): string {
  const hash = createHash('sha256').update(scriptBody(sections)).digest('hex').slice(0, 16);
  return `${label} script (sha256 ${hash}…: ${sections.map((s) => s.name).join(', ')})${detail ? `; ${detail}` : ''}`;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Splits a collection run's stdout into artifacts, one per section, in the order of `sections`. A section the
 * output does not contain (the run was cut short) is reported as not received, not dropped.
 */
export function parseCollectOutput(
  stdout: Buffer,
  boundary: string,
  sections: readonly SectionSpec[],
  maxSectionBytes: number,
): Artifact[] {
  const found = new Map<string, Artifact>();
  const marker = Buffer.from(`\n${boundary} `);
  let pos = stdout.indexOf(marker);
  while (pos !== -1) {
    const lineStart = pos + marker.length;
    const lineEnd = stdout.indexOf(0x0a, lineStart);
    if (lineEnd === -1) break;
    const line = stdout.subarray(lineStart, lineEnd).toString('utf8');
    const [kindAndName = '', ...rest] = line.split('\t');
    const space = kindAndName.indexOf(' ');
    const kind = kindAndName.slice(0, space);
    const name = kindAndName.slice(space + 1);
    if (kind === 'missing') {
      const content = Buffer.from(`not installed: none of ${rest.join('\t')} is available on this host\n`);
      found.set(name, {
        name,
        command: `(none of: ${rest.join('\t')})`,
        status: 'missing',
        exitCode: null,
        durationMs: 0,
        bytes: content.length,
        sha256: sha256(content),
        truncated: false,
        content,
        note: `not installed (${rest.join('\t')})`,
      });
      pos = stdout.indexOf(marker, lineEnd);
      continue;
    }
    if (kind !== 'begin') {
      pos = stdout.indexOf(marker, lineEnd);
      continue;
    }
    const command = rest.join('\t');
    const bodyStart = lineEnd + 1;
    const endPos = stdout.indexOf(Buffer.from(`\n${boundary} end `), bodyStart - 1);
    if (endPos === -1) {
      // Output cut off inside this section (overall cap or connection lost): keep what arrived.
      const content = stdout.subarray(bodyStart);
      found.set(name, {
        name,
        command,
        status: 'not-received',
        exitCode: null,
        durationMs: null,
        bytes: content.length,
        sha256: sha256(content),
        truncated: true,
        content,
        note: 'the output ended before this section finished',
      });
      break;
    }
    let content = stdout.subarray(bodyStart, Math.max(bodyStart, endPos));
    const endLineStart = endPos + 1 + boundary.length + 1;
    const endLineEnd = stdout.indexOf(0x0a, endLineStart);
    const endFields = stdout
      .subarray(endLineStart, endLineEnd === -1 ? undefined : endLineEnd)
      .toString('utf8')
      .split('\t');
    const exitCode = Number.parseInt(endFields[1] ?? '', 10);
    const durationMs = Number.parseInt(endFields[2] ?? '', 10);
    const truncated = content.length > maxSectionBytes;
    if (truncated) content = content.subarray(0, maxSectionBytes);
    const code = Number.isNaN(exitCode) ? null : exitCode;
    const status: ArtifactStatus =
      code === TIMEOUT_EXIT ? 'timed-out' : code === 0 || truncated ? 'ok' : 'failed';
    found.set(name, {
      name,
      command,
      status,
      exitCode: code,
      durationMs: Number.isNaN(durationMs) ? null : durationMs,
      bytes: content.length,
      sha256: sha256(content),
      truncated,
      content: Buffer.from(content),
      note:
        status === 'timed-out'
          ? 'stopped by the per-section time limit'
          : truncated
            ? `truncated at ${maxSectionBytes} bytes`
            : undefined,
    });
    pos = endLineEnd === -1 ? -1 : stdout.indexOf(marker, endLineEnd);
  }
  return sections.map(
    (s) =>
      found.get(s.name) ?? {
        name: s.name,
        command: '(not run)',
        status: 'not-received',
        exitCode: null,
        durationMs: null,
        bytes: 0,
        sha256: sha256(Buffer.alloc(0)),
        truncated: false,
        content: Buffer.alloc(0),
        note: 'no output arrived for this section (the run was cut short)',
      },
  );
}

import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Artifact } from './collect-script.js';
import { tarGz } from './tar.js';

export interface ManifestArtifact {
  name: string;
  file: string;
  command: string;
  status: Artifact['status'];
  exitCode: number | null;
  durationMs: number | null;
  bytes: number;
  sha256: string;
  truncated: boolean;
  note?: string | undefined;
}

export interface EvidenceManifest {
  format: 'ward-evidence/1';
  requestId: string;
  host: string;
  address: string;
  hostKey: string;
  kind: string;
  collectedAt: string;
  requestedBy: string;
  artifacts: ManifestArtifact[];
}

export interface SavedEvidence {
  /** Absolute directory `<WARD_EVIDENCE_DIR>/<request>/<host>/<kind>`. */
  dir: string;
  manifest: EvidenceManifest;
  manifestSha256: string;
  /** `<kind>-<host>-<request>.tar.gz` inside dir: every artifact plus manifest.json. */
  bundlePath: string;
  bundleName: string;
  bundle: Buffer;
  bundleSha256: string;
}

const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function segment(value: string, what: string): string {
  if (!SAFE_SEGMENT.test(value) || value.includes('..'))
    throw new Error(`unsafe ${what} for a path: ${value}`);
  return value;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/**
 * Writes one host's evidence: each artifact as its own file, manifest.json (every artifact with its command,
 * exit code, duration, size, sha256 and truncation), a tar.gz bundle of all of them and `bundle.sha256`.
 * Files are written once and never rewritten; the bundle's hash is what the summary and the email quote.
 */
export async function saveEvidence(options: {
  evidenceDir: string;
  requestId: string;
  host: { name: string; address: string; hostKey: string };
  kind: string;
  requestedBy: string;
  collectedAt: number;
  artifacts: readonly Artifact[];
}): Promise<SavedEvidence> {
  const dir = resolve(
    options.evidenceDir,
    segment(options.requestId, 'request id'),
    segment(options.host.name, 'host name'),
    segment(options.kind, 'evidence kind'),
  );
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const entries = options.artifacts.map((a, i) => ({
    artifact: a,
    file: `${String(i + 1).padStart(2, '0')}-${segment(a.name, 'artifact name')}.txt`,
  }));
  const manifest: EvidenceManifest = {
    format: 'ward-evidence/1',
    requestId: options.requestId,
    host: options.host.name,
    address: options.host.address,
    hostKey: options.host.hostKey,
    kind: options.kind,
    collectedAt: new Date(options.collectedAt).toISOString(),
    requestedBy: options.requestedBy,
    artifacts: entries.map(({ artifact: a, file }) => ({
      name: a.name,
      file,
      command: a.command,
      status: a.status,
      exitCode: a.exitCode,
      durationMs: a.durationMs,
      bytes: a.bytes,
      sha256: a.sha256,
      truncated: a.truncated,
      ...(a.note ? { note: a.note } : {}),
    })),
  };
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
  for (const { artifact, file } of entries) {
    await writeFile(join(dir, file), artifact.content, { flag: 'wx', mode: 0o600 });
  }
  await writeFile(join(dir, 'manifest.json'), manifestText, { flag: 'wx', mode: 0o600 });
  const prefix = `${options.kind}-${options.host.name}-${options.requestId}`;
  const bundle = tarGz([
    ...entries.map(({ artifact, file }) => ({
      name: `${prefix}/${file}`,
      data: artifact.content,
      mtimeMs: options.collectedAt,
    })),
    { name: `${prefix}/manifest.json`, data: Buffer.from(manifestText), mtimeMs: options.collectedAt },
  ]);
  const bundleName = `${prefix}.tar.gz`;
  const bundlePath = join(dir, bundleName);
  const bundleSha256 = sha256(bundle);
  await writeFile(bundlePath, bundle, { flag: 'wx', mode: 0o600 });
  await writeFile(join(dir, 'bundle.sha256'), `${bundleSha256}  ${bundleName}\n`, {
    flag: 'wx',
    mode: 0o600,
  });
  return {
    dir,
    manifest,
    manifestSha256: sha256(manifestText),
    bundlePath,
    bundleName,
    bundle,
    bundleSha256,
  };
}

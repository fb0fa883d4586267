import type { InventoryHost } from '../config/inventory.js';
import type { ShellSession } from '../ports/remote-shell.js';
import { forensicSummaryText, renderForensicSummary } from '../render/forensics.js';
import { type SavedEvidence, saveEvidence } from './evidence.js';
import { collectForensics, type ForensicsResult } from './forensics.js';
import type { RemoteJob } from './host-session.js';
import { emailAdmins, postInThread } from './report.js';

export interface Snapshot {
  result: ForensicsResult;
  saved: SavedEvidence;
  email: 'sent' | 'failed' | 'not-configured';
  uploaded: boolean;
}

/**
 * Forensics on one connected host, end to end: collect on one channel, keep the evidence (files, manifest,
 * bundle), post the summary in the request's thread, upload the bundle there (files.uploadV2), email the admins.
 */
export async function snapshotHost(
  job: RemoteJob,
  session: ShellSession,
  host: InventoryHost,
  options: { emailSubjectPrefix?: string } = {},
): Promise<Snapshot> {
  const { services } = job;
  const result = await collectForensics(session, job.approved, {
    hashPaths: services.inventory().forensicsHashPaths,
    timeoutMs: services.config.WARD_SSH_COMMAND_TIMEOUT_MS,
    now: () => services.clock.now(),
  });
  const saved = await saveEvidence({
    evidenceDir: services.config.WARD_EVIDENCE_DIR,
    requestId: job.requestId,
    host,
    kind: 'forensics',
    requestedBy: job.user,
    collectedAt: result.startedAt,
    artifacts: result.artifacts,
  });
  await services.audit.record({
    type: 'artifact.collected',
    actor: job.user,
    requestId: job.requestId,
    command: job.command,
    hosts: [host.name],
    details: { bundle: saved.bundleName, sha256: saved.bundleSha256, artifacts: result.artifacts.length },
  });
  const summary = {
    result,
    address: host.address,
    requestId: job.requestId,
    bundleName: saved.bundleName,
    bundleSha256: saved.bundleSha256,
    evidenceDir: saved.dir,
  };
  await services.chat
    .postMessage(job.thread.channel, renderForensicSummary(summary), { threadTs: job.thread.ts })
    .catch((err) => services.log.error({ err }, 'could not post the forensic summary'));
  let uploaded = false;
  try {
    await services.chat.uploadFile({
      channel: job.thread.channel,
      threadTs: job.thread.ts,
      filename: saved.bundleName,
      title: `Evidence bundle: ${host.name} (${job.requestId})`,
      content: saved.bundle,
      // Its sha256 is in the summary just above: said once, not once per message.
      initialComment: `Evidence bundle for ${host.name} (sha256 in the summary above).`,
    });
    uploaded = true;
  } catch (err) {
    services.log.warn({ err }, 'evidence upload failed');
    await postInThread(
      services,
      job,
      `⚠️ Could not upload the evidence bundle for ${host.name} to Slack; it is kept on the ward server in ${saved.dir}.`,
    );
  }
  const h = result.highlights;
  const email = await emailAdmins(job, {
    subject: `${options.emailSubjectPrefix ?? '[ward] forensics'} ${host.name}: ${h.suspiciousProcesses.length} suspicious process(es), ${h.failures.length} not collected (${job.requestId})`,
    text: forensicSummaryText(summary),
    attachments: [{ filename: 'manifest.json', data: Buffer.from(JSON.stringify(saved.manifest, null, 2)) }],
  });
  return { result, saved, email, uploaded };
}

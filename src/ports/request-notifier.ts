import type { ApprovalRequest, TransitionResult } from '../core/approvals/request.js';
import type { SealProblem } from '../core/approvals/request-seal.js';
import type { Replier } from '../core/command.js';
import type { ExecutionRecord } from '../core/executions.js';
import type { ExecutionReport, Plan } from '../core/plan-types.js';

/** Whose second factor: the person who asked, or an approver whose vote counts once confirmed. */
export type Factor = 'requester' | 'approver';

/** A person ward answers privately: through the click's response_url when there is one, else in the channel. */
export interface Recipient {
  user: string;
  channel?: string | undefined;
  responseUrl?: string | undefined;
}

/** Where a request's thread is (its approval message). */
export interface Thread {
  channel: string;
  ts: string;
}

/**
 * What ward has to tell one person about a request, as data: the approvals core decides what happened, the
 * notifier (src/slack/ with src/render/) decides how it reads.
 */
export type RequestNotice =
  /** The button or window does not name a ward request. */
  | { kind: 'not_a_request' }
  | { kind: 'unknown_request'; id: string }
  /** The button is not on the request's own message (a copy, another channel): it changed nothing. */
  | { kind: 'other_message'; req: ApprovalRequest }
  /** The code window names no request message, or another one: the code is not a factor for this request. */
  | { kind: 'other_window'; req: ApprovalRequest }
  /** The request is no longer pending: a vote or factor changes nothing. */
  | { kind: 'final'; req: ApprovalRequest }
  /** The state machine refused the transition. */
  | { kind: 'refused'; result: TransitionResult; req: ApprovalRequest }
  | { kind: 'own_request'; vote: 'approve' | 'deny'; req: ApprovalRequest }
  | { kind: 'not_an_approver'; vote: 'approve' | 'deny'; req: ApprovalRequest }
  | { kind: 'already_approved'; req: ApprovalRequest }
  | { kind: 'vote_recorded'; req: ApprovalRequest }
  /** Someone other than the requester clicked the requester's MFA button. */
  | { kind: 'requester_factor_only'; req: ApprovalRequest }
  | { kind: 'no_factor_pending'; req: ApprovalRequest }
  | { kind: 'push_sent'; req: ApprovalRequest }
  /** A code is needed but there is no trigger id to open the window with. */
  | { kind: 'click_to_confirm'; req: ApprovalRequest }
  /** Slack refused to open the code window (trigger id expired). */
  | { kind: 'window_failed'; factor: Factor; req: ApprovalRequest }
  /** Words from elsewhere that are already meant for people: a WardError's userMessage, an MFA provider's refusal. */
  | { kind: 'message'; text: string }
  /** The stored request failed its integrity check (src/core/approvals/request-seal.ts): nothing acts on it. */
  | { kind: 'tampered'; id: string; problem: SealProblem }
  | { kind: 'unknown_action' };

/**
 * How the approvals core and the request pipeline speak to people. Core passes data; the implementation
 * (src/slack/slack-request-notifier.ts) draws Block Kit, opens modals, answers through response_url.
 */
export interface RequestNotifier {
  /** Posts a new request's message in its channel; returns where it is. */
  postRequest(req: ApprovalRequest): Promise<Thread>;
  /**
   * Posts a plain notice (no buttons) that an approved request runs, for a request whose approval message's place was
   * lost: its run reports in this notice's thread. Returns where it is.
   */
  postRunNotice(req: ApprovalRequest): Promise<Thread>;
  /** Redraws a request's message from its stored state. Throws when the chat refuses. */
  redrawRequest(req: ApprovalRequest): Promise<void>;
  /** Tells the channel that someone overrode a soft policy with break-glass. */
  announceBreakGlass(req: ApprovalRequest): Promise<void>;
  /** Tells the channel that an advisory policy let a request run without what it asks for. */
  announceAdvisory(req: ApprovalRequest): Promise<void>;
  /** A private answer to one person. Never throws: a lost notice is logged. */
  tell(to: Recipient, notice: RequestNotice): Promise<void>;
  /** Opens the window asking for a code (needs a trigger id less than 3 s old). Throws when the chat refuses. */
  askCode(triggerId: string, req: ApprovalRequest, factor: Factor): Promise<void>;
  /** In the thread: nothing ran, the rebuilt plan differs from the approved one (`problem` says why, if known). */
  planChanged(thread: Thread, req: ApprovalRequest, problem: string | undefined): Promise<void>;
  /** In the thread: the execution starts on these hosts. */
  running(thread: Thread, req: ApprovalRequest, hosts: string[]): Promise<void>;
  /** In the thread: how the execution ended. */
  finished(thread: Thread, report: ExecutionReport, requestId?: string): Promise<void>;
  /** In the execution's thread: it was interrupted, what was and was not done, and a button to ask again. */
  interrupted(record: ExecutionRecord): Promise<void>;
  /**
   * In the thread the request claims (or its channel when it names no thread): its stored record failed its
   * integrity check, and ward will not act on it. Names nothing from the record but the request id.
   */
  tampered(
    where: { channel: string; ts: string | undefined },
    requestId: string,
    problem: SealProblem,
  ): Promise<void>;
  /** `--dry-run`: the plan, privately, and that nothing ran. */
  dryRun(reply: Replier, plan: Plan, reason: string | undefined): Promise<void>;
}

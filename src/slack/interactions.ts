/** A button click (block_actions), translated from Slack's payload. */
export interface ActionEvent {
  user: string;
  actionId: string;
  value: string;
  channel?: string | undefined;
  /** ts of the message that holds the button. */
  messageTs?: string | undefined;
  /** thread of that message, when it is a reply. */
  threadTs?: string | undefined;
  triggerId: string;
  responseUrl?: string | undefined;
  requestId: string;
}

/** A modal submitted (view_submission). `values[blockId][actionId]` is the input's value. */
export interface ViewEvent {
  user: string;
  callbackId: string;
  privateMetadata: string;
  values: Record<string, Record<string, string | undefined>>;
  viewId: string;
  triggerId?: string | undefined;
  requestId: string;
}

/** What a view handler answers: nothing (the modal closes) or errors shown under the named input blocks. */
export type ViewResult = undefined | { errors: Record<string, string> };

export type ActionHandler = (event: ActionEvent) => Promise<void>;
export type ViewHandler = (event: ViewEvent) => Promise<ViewResult>;

/**
 * Routes clicks and modal submissions to whoever registered the action id prefix (`approval.`, `alert.`, `mfa.`…),
 * so that features register their handlers without touching the Slack listener code.
 */
export class InteractionRouter {
  private readonly actions: Array<{ prefix: string; handler: ActionHandler }> = [];
  private readonly views = new Map<string, ViewHandler>();

  onAction(prefix: string, handler: ActionHandler): void {
    this.actions.push({ prefix, handler });
  }

  onView(callbackId: string, handler: ViewHandler): void {
    this.views.set(callbackId, handler);
  }

  actionHandler(actionId: string): ActionHandler | undefined {
    return this.actions.find((a) => actionId.startsWith(a.prefix))?.handler;
  }

  viewHandler(callbackId: string): ViewHandler | undefined {
    return this.views.get(callbackId);
  }
}

import { WardError } from '../errors.js';

/**
 * An EC2 API call failed. Raised at the adapter boundary (src/cloud/ec2.ts) so that nothing above it sees an SDK
 * error: `awsCode` is EC2's error code (`UnauthorizedOperation`, `InvalidInstanceID.NotFound`, …), and the
 * userMessage names the call, so a responder knows exactly which change did not happen.
 */
export class CloudApiError extends WardError {
  readonly action: string;
  readonly awsCode: string;

  constructor(action: string, awsCode: string, awsMessage: string, cause?: unknown) {
    super('ward_cloud_api', `EC2 ${action} failed: ${awsCode}: ${awsMessage}`, { cause });
    this.action = action;
    this.awsCode = awsCode;
  }
}

/** The instance is not in a state ward can act on safely (unknown, terminated, changed since it was recorded). */
export class CloudStateError extends WardError {
  constructor(userMessage: string, code = 'ward_cloud_state') {
    super(code, userMessage);
  }
}

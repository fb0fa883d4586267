import { WardError } from '../errors.js';

/**
 * A cloud provider's API call failed. Raised at the adapter boundary (src/adapters/<provider>/) so that nothing
 * above it sees an SDK error: `providerCode` is the provider's error code (EC2's `UnauthorizedOperation`,
 * `InvalidInstanceID.NotFound`, …), and the userMessage names the service and the call, so a responder knows
 * exactly which change did not happen.
 */
export class CloudApiError extends WardError {
  readonly action: string;
  readonly providerCode: string;

  constructor(
    service: string,
    action: string,
    providerCode: string,
    providerMessage: string,
    cause?: unknown,
  ) {
    super('ward_cloud_api', `${service} ${action} failed: ${providerCode}: ${providerMessage}`, { cause });
    this.action = action;
    this.providerCode = providerCode;
  }
}

/** The instance is not in a state ward can act on safely (unknown, terminated, changed since it was recorded). */
export class CloudStateError extends WardError {
  constructor(userMessage: string, code = 'ward_cloud_state') {
    super(code, userMessage);
  }
}

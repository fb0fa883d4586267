import type { Config } from '../config/env.js';
import type { Ec2Cloud } from './ec2.js';

/**
 * The Ec2Cloud for this configuration, loading the AWS SDK on first use: a ward that never runs a cloud command
 * never pays for it (the SDK adds about 90 MiB to the process).
 */
export async function loadEc2(config: Config): Promise<Ec2Cloud> {
  const { ec2For } = await import('./ec2.js');
  return ec2For(config);
}

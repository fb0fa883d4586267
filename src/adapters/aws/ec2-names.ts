/** The isolation security group ward creates (or reuses) in each VPC. */
export function isolationGroupName(vpcId: string): string {
  return `ward-isolation-${vpcId}`;
}

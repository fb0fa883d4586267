/**
 * The one port every cloud sits behind: what quarantine, unquarantine and the tag watcher need from a provider, in
 * words that are not any vendor's. An adapter (adapters/aws/ for EC2) implements it and is listed once in
 * adapters/cloud-providers.ts; the inventory's `cloud.provider` picks it.
 *
 * Field names follow what ward has always stored (`networkInterfaceId`, `vpcId`, `groupId`): quarantine records
 * written before this port existed must stay readable by unquarantine. Read them as "network attachment", "the
 * network it is in" and "firewall group" (EC2 security group, a GCP network tag, an Azure NSG).
 */

import type { Config } from '../config/env.js';

/** A firewall group applied to a network interface. */
export interface GroupRef {
  groupId: string;
  /** Human name; empty when the provider has none. */
  groupName: string;
}

/** One network interface of an instance and the firewall groups applied to it. */
export interface NetworkInterfaceState {
  networkInterfaceId: string;
  /** The network the interface is in: isolation groups are per network. */
  vpcId: string;
  groups: GroupRef[];
}

/** What ward needs to know about an instance, as the provider describes it now. */
export interface InstanceState {
  instanceId: string;
  region: string;
  /** The provider's lifecycle state (`running`, `stopped`, `terminated`, `shutting-down`, …). */
  state: string;
  vpcId: string | undefined;
  /** Sorted by id, so that two descriptions of the same instance compare equal. */
  networkInterfaces: NetworkInterfaceState[];
  tags: Record<string, string>;
  volumes: Array<{ volumeId: string; deviceName: string }>;
}

/** What preparing a network's isolation group did. */
export interface IsolationGroupResult {
  groupId: string;
  created: boolean;
  /** One line per change made (rule added, rule revoked); empty when the group was already right. */
  changes: string[];
}

/** An evidence snapshot the provider started. */
export interface VolumeSnapshot {
  snapshotId: string;
  /** The provider's state (`pending` while it copies). */
  state: string;
}

/**
 * A cloud provider's instance-isolation API, for one account or project. Every method converts the vendor's errors
 * into CloudApiError (src/cloud/errors.ts), so nothing above the adapter sees an SDK error.
 */
export interface CloudIsolation {
  /** The instance as it is now; CloudStateError `ward_cloud_not_found` when the provider does not know it. */
  describeInstance(region: string, instanceId: string): Promise<InstanceState>;
  /**
   * Instances (not terminated) carrying the tag key=value. `region` undefined: the provider's default region, which
   * the answer names (undefined when there is none).
   */
  listTagged(
    region: string | undefined,
    tag: { key: string; value: string },
  ): Promise<{ region: string | undefined; instances: InstanceState[] }>;
  /** Sets tags on the instance, leaving its other tags alone. */
  tag(region: string, instanceId: string, tags: Record<string, string>): Promise<void>;
  /** Removes tags by key, whatever their value. */
  untag(region: string, instanceId: string, keys: string[]): Promise<void>;
  /**
   * Finds or creates the network's isolation group and brings it to exactly: inbound SSH from each management CIDR,
   * nothing outbound. A group someone widened is refused (CloudStateError), never used.
   */
  prepareIsolation(
    region: string,
    vpcId: string,
    options: { managementCidrs: string[]; requestId: string },
  ): Promise<IsolationGroupResult>;
  /**
   * Makes `isolationGroupId` the only group of one network interface. The previous groups are what the caller read
   * with describeInstance and recorded before calling this: ward records before it changes anything, so that a
   * second quarantine can never take the isolated state for the original one.
   */
  isolate(region: string, networkInterfaceId: string, isolationGroupId: string): Promise<void>;
  /** Starts a snapshot of one volume, tagged at creation so that it is never untagged evidence. */
  snapshotVolume(
    region: string,
    volumeId: string,
    options: { description: string; tags: Record<string, string> },
  ): Promise<VolumeSnapshot>;
  /** Puts back exactly `groupIds` (a recorded previous state) on one network interface. */
  restore(region: string, networkInterfaceId: string, groupIds: string[]): Promise<void>;
}

/** A value in a call template that is only known when the step runs (shown as its text, matches any value). */
export interface Placeholder {
  readonly placeholder: string;
}

/**
 * One CloudIsolation call as data. A cloud plan step lists the calls it makes; the provider shows them
 * (`showCall`) and the step runs them, from the same objects. Fields are those of the port method of the same name.
 */
export type CloudCall =
  | { op: 'describeInstance'; instanceId: string }
  | { op: 'tag'; instanceId: string; tags: Record<string, string> }
  | { op: 'untag'; instanceId: string; keys: string[] }
  | { op: 'prepareIsolation'; vpcId: string; managementCidrs: string[]; requestId: string }
  | { op: 'isolate'; networkInterfaceId: string; isolationGroupId: string }
  | {
      op: 'snapshotVolume';
      volumeId: string;
      description: string;
      tags: Record<string, string>;
    }
  | { op: 'restore'; networkInterfaceId: string; groupIds: string[] };

/** What each call answers. */
export interface CloudCallResults {
  describeInstance: InstanceState;
  tag: undefined;
  untag: undefined;
  prepareIsolation: IsolationGroupResult;
  isolate: undefined;
  snapshotVolume: VolumeSnapshot;
  restore: undefined;
}

type Templated<T> = T extends string
  ? T | Placeholder
  : T extends ReadonlyArray<infer U>
    ? Array<Templated<U>>
    : T extends object
      ? { [K in keyof T]: K extends 'op' ? T[K] : Templated<T[K]> }
      : T;

/** A CloudCall where values known only at run time are placeholders: what a plan, built before any API call, holds. */
export type CloudCallTemplate = Templated<CloudCall>;

/**
 * A provider as the registry lists it: what ward knows without loading the vendor's SDK (ids, names, how each call
 * is shown to approvers), and `load`, which loads the SDK on first use. ward's idle memory depends on that: the AWS
 * SDK alone adds about 90 MiB, paid only when a cloud command runs or the watcher starts.
 */
export interface CloudProvider {
  /** The inventory's `cloud.provider` value, e.g. `aws`. */
  readonly name: string;
  /** How the provider is named in messages, e.g. `EC2`. */
  readonly label: string;
  /** Ids of its instances; a target starting with `instanceIdPrefix` must match it (a typo is refused early). */
  readonly instanceIdPattern: RegExp;
  readonly instanceIdPrefix: string;
  /** Shown when an instance id does not match, e.g. "an EC2 instance id (i- and 8 or 17 hex digits, …)". */
  readonly instanceIdHint: string;
  readonly regionPattern: RegExp;
  readonly regionHint: string;
  /** The isolation group ward creates (or reuses) in a network. */
  isolationGroupName(vpcId: string): string;
  /** The exact API calls one port call makes, one line each, e.g. `ec2:CreateTags Resources=[i-…] Tags=[…]`. */
  showCall(call: CloudCallTemplate): string[];
  /** The process's port for this configuration, built (and the SDK loaded) on first use. */
  load(config: Config): Promise<CloudIsolation>;
}

/**
 * A fake EC2 Query API on 127.0.0.1 for ward's cloud tests: the real @aws-sdk/client-ec2 is pointed at it through
 * its `endpoint` option, so the SDK's SigV4 signing, query serialisation and XML parsing all run for real. It holds
 * a few instances, network interfaces, security groups and volumes in memory, answers the XML shapes the SDK's
 * EC2 deserialiser reads (element names from @aws-sdk/client-ec2's schemas: reservationSet, instancesSet,
 * networkInterfaceSet, groupSet, securityGroupInfo, ipPermissions…), records every call, and can answer an error
 * on a chosen call.
 *
 * Actions: DescribeInstances, DescribeSecurityGroups, CreateSecurityGroup, AuthorizeSecurityGroupIngress,
 * RevokeSecurityGroupEgress, ModifyNetworkInterfaceAttribute, CreateTags, DeleteTags, CreateSnapshot.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakePermission {
  protocol: string;
  fromPort?: number | undefined;
  toPort?: number | undefined;
  cidrs: string[];
}

export interface FakeGroup {
  groupId: string;
  groupName: string;
  vpcId: string;
  description: string;
  ingress: FakePermission[];
  egress: FakePermission[];
  tags: Record<string, string>;
}

export interface FakeNetworkInterface {
  networkInterfaceId: string;
  vpcId: string;
  groupIds: string[];
}

export interface FakeInstance {
  instanceId: string;
  region: string;
  vpcId: string;
  state: 'pending' | 'running' | 'stopping' | 'stopped' | 'terminated';
  networkInterfaceIds: string[];
  volumes: Array<{ volumeId: string; deviceName: string }>;
  tags: Record<string, string>;
}

export interface FakeSnapshot {
  snapshotId: string;
  volumeId: string;
  description: string;
  tags: Record<string, string>;
}

export interface Ec2Call {
  action: string;
  /** The form parameters as sent (Action and Version included). */
  params: Record<string, string>;
  /** Region from the SigV4 credential scope. */
  region: string | undefined;
  /** The error code the fake answered with, when it did. */
  error?: string;
}

interface Failure {
  action: string;
  code: string;
  message: string;
  status: number;
  /** Only calls whose parameters satisfy this fail; others go through. */
  when: (params: Record<string, string>) => boolean;
  remaining: number;
}

class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** The access key the fake accepts; a request signed with any other secret gets SignatureDoesNotMatch, as AWS answers. */
export interface FakeEc2Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** What test/helpers/cloud-env.ts gives ward in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. */
export const FAKE_EC2_CREDENTIALS: FakeEc2Credentials = {
  accessKeyId: 'AKIDWARDCLOUDTEST',
  secretAccessKey: 'ward-cloud-test-secret-key',
};

export class FakeEc2 {
  /** Mutable so that a test can rotate the secret under a running ward. */
  credentials: FakeEc2Credentials = { ...FAKE_EC2_CREDENTIALS };
  readonly instances = new Map<string, FakeInstance>();
  readonly networkInterfaces = new Map<string, FakeNetworkInterface>();
  readonly groups = new Map<string, FakeGroup>();
  readonly snapshots = new Map<string, FakeSnapshot>();
  readonly calls: Ec2Call[] = [];
  private readonly failures: Failure[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  // ---- set-up ---------------------------------------------------------------------------------------------

  addGroup(g: Partial<FakeGroup> & { groupId: string; groupName: string; vpcId: string }): FakeGroup {
    const group: FakeGroup = {
      description: g.groupName,
      ingress: [],
      egress: [{ protocol: '-1', cidrs: ['0.0.0.0/0'] }],
      tags: {},
      ...g,
    };
    this.groups.set(group.groupId, group);
    return group;
  }

  /** An instance with one network interface per entry of `interfaces` (each a list of group ids). */
  addInstance(opts: {
    instanceId: string;
    region?: string;
    vpcId: string;
    interfaces: Array<{ networkInterfaceId: string; groupIds: string[] }>;
    volumes?: Array<{ volumeId: string; deviceName: string }>;
    tags?: Record<string, string>;
    state?: FakeInstance['state'];
  }): FakeInstance {
    for (const i of opts.interfaces) {
      this.networkInterfaces.set(i.networkInterfaceId, {
        networkInterfaceId: i.networkInterfaceId,
        vpcId: opts.vpcId,
        groupIds: [...i.groupIds],
      });
    }
    const instance: FakeInstance = {
      instanceId: opts.instanceId,
      region: opts.region ?? 'eu-west-1',
      vpcId: opts.vpcId,
      state: opts.state ?? 'running',
      networkInterfaceIds: opts.interfaces.map((i) => i.networkInterfaceId),
      volumes: opts.volumes ?? [],
      tags: { ...(opts.tags ?? {}) },
    };
    this.instances.set(instance.instanceId, instance);
    return instance;
  }

  /** The next `times` calls to `action` (matching `when`) answer this EC2 error instead of acting. */
  failOn(
    action: string,
    code: string,
    opts: {
      message?: string;
      status?: number;
      times?: number;
      when?: (p: Record<string, string>) => boolean;
    } = {},
  ): void {
    this.failures.push({
      action,
      code,
      message: opts.message ?? `You are not authorized to perform this operation (${action}).`,
      status: opts.status ?? 400,
      when: opts.when ?? (() => true),
      remaining: opts.times ?? 1,
    });
  }

  callsTo(action: string): Ec2Call[] {
    return this.calls.filter((c) => c.action === action);
  }

  /** Group ids per network interface of an instance, in interface order. */
  groupsOf(instanceId: string): Record<string, string[]> {
    const instance = this.instances.get(instanceId)!;
    return Object.fromEntries(
      instance.networkInterfaceIds.map((id) => [id, [...this.networkInterfaces.get(id)!.groupIds]]),
    );
  }

  groupByName(name: string): FakeGroup | undefined {
    return [...this.groups.values()].find((g) => g.groupName === name);
  }

  // ---- HTTP -----------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    const action = params['Action'] ?? '(none)';
    const auth = req.headers['authorization'] ?? '';
    const region = /Credential=[^/]+\/\d{8}\/([^/]+)\/ec2\/aws4_request/.exec(auth)?.[1];
    const call: Ec2Call = { action, params, region };
    this.calls.push(call);
    const requestId = randomBytes(8).toString('hex');
    try {
      if (req.method !== 'POST') throw new Ec2Error('InvalidAction', 'EC2 Query API takes POST', 400);
      // The SDK signs every request (SigV4); an unsigned one means the client is not the SDK we mean to test.
      if (!auth.startsWith('AWS4-HMAC-SHA256 Credential=')) {
        throw new Ec2Error(
          'AuthFailure',
          'AWS was not able to validate the provided access credentials',
          401,
        );
      }
      this.verifySignature(req, auth, Buffer.concat(chunks));
      if (params['Version'] !== '2016-11-15') throw new Ec2Error('InvalidParameterValue', 'bad Version');
      const failure = this.failures.find((f) => f.action === action && f.remaining > 0 && f.when(params));
      if (failure) {
        failure.remaining--;
        throw new Ec2Error(failure.code, failure.message, failure.status);
      }
      const body = this.dispatch(action, params, region ?? 'eu-west-1');
      res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${XMLNS}"><requestId>${requestId}</requestId>${body}</${action}Response>`,
      );
    } catch (err) {
      const e = err instanceof Ec2Error ? err : new Ec2Error('InternalError', String(err), 500);
      call.error = e.code;
      res.writeHead(e.status, { 'content-type': 'text/xml;charset=UTF-8' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${x(e.code)}</Code><Message>${x(e.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
      );
    }
  }

  /**
   * SigV4 as AWS checks it: rebuild the canonical request from what arrived (the signed headers, the body's
   * sha256), derive the signing key from the secret this fake holds, and compare signatures. An unknown access key
   * is AuthFailure; a known one signed with another secret is SignatureDoesNotMatch (HTTP 403), word for word.
   */
  private verifySignature(req: IncomingMessage, auth: string, body: Buffer): void {
    const m =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
        auth,
      );
    if (!m)
      throw new Ec2Error(
        'IncompleteSignature',
        'The request signature does not conform to AWS standards.',
        400,
      );
    const [, keyId, date, region, service, signedHeaders, signature] = m as unknown as string[];
    if (keyId !== this.credentials.accessKeyId) {
      throw new Ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials', 401);
    }
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const headers = signedHeaders!.split(';');
    const canonicalHeaders = headers
      .map((h) => {
        const raw = req.headers[h];
        const value = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
        return `${h}:${value.trim().replace(/\s+/g, ' ')}\n`;
      })
      .join('');
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = [...url.searchParams.entries()]
      .map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v)] as const)
      .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const payloadHash =
      typeof req.headers['x-amz-content-sha256'] === 'string'
        ? req.headers['x-amz-content-sha256']
        : createHash('sha256').update(body).digest('hex');
    const canonicalRequest = [
      req.method,
      url.pathname,
      query,
      canonicalHeaders,
      signedHeaders,
      payloadHash,
    ].join('\n');
    const scope = `${date}/${region}/${service}/aws4_request`;
    const stringToSign = [
      'AWS4-HMAC-SHA256',
      amzDate,
      scope,
      createHash('sha256').update(canonicalRequest).digest('hex'),
    ].join('\n');
    let key: Buffer = Buffer.from(`AWS4${this.credentials.secretAccessKey}`);
    for (const part of [date!, region!, service!, 'aws4_request'])
      key = createHmac('sha256', key).update(part).digest();
    const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
    if (!timingSafeEqual(Buffer.from(expected), Buffer.from(signature!))) {
      throw new Ec2Error(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
        403,
      );
    }
  }

  private dispatch(action: string, p: Record<string, string>, region: string): string {
    switch (action) {
      case 'DescribeInstances':
        return this.describeInstances(p, region);
      case 'DescribeSecurityGroups':
        return this.describeSecurityGroups(p);
      case 'CreateSecurityGroup':
        return this.createSecurityGroup(p);
      case 'AuthorizeSecurityGroupIngress':
        return this.authorizeIngress(p);
      case 'RevokeSecurityGroupEgress':
        return this.revokeEgress(p);
      case 'ModifyNetworkInterfaceAttribute':
        return this.modifyNetworkInterface(p);
      case 'CreateTags':
        return this.createTags(p);
      case 'DeleteTags':
        return this.deleteTags(p);
      case 'CreateSnapshot':
        return this.createSnapshot(p);
      default:
        throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
    }
  }

  private describeInstances(p: Record<string, string>, region: string): string {
    const ids = list(p, 'InstanceId');
    for (const id of ids) {
      if (!/^i-[0-9a-f]{8,17}$/.test(id))
        throw new Ec2Error('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
      const inst = this.instances.get(id);
      if (!inst || inst.region !== region) {
        throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
      }
    }
    const filters = filtersOf(p);
    const found = [...this.instances.values()].filter(
      (i) =>
        i.region === region &&
        (ids.length === 0 || ids.includes(i.instanceId)) &&
        filters.every((f) => {
          if (f.name.startsWith('tag:')) {
            const v = i.tags[f.name.slice(4)];
            return v !== undefined && f.values.includes(v);
          }
          if (f.name === 'instance-state-name') return f.values.includes(i.state);
          if (f.name === 'instance-id') return f.values.includes(i.instanceId);
          throw new Ec2Error('InvalidParameterValue', `The filter '${f.name}' is invalid`);
        }),
    );
    const items = found.map((i) => {
      const enis = i.networkInterfaceIds.map((id) => this.networkInterfaces.get(id)!);
      const primaryGroups = enis[0]?.groupIds ?? [];
      return `<item><reservationId>r-${i.instanceId.slice(2)}</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet><item>
<instanceId>${i.instanceId}</instanceId><imageId>ami-0123456789abcdef0</imageId>
<instanceState><code>${stateCode(i.state)}</code><name>${i.state}</name></instanceState>
<instanceType>t3.micro</instanceType><vpcId>${i.vpcId}</vpcId><subnetId>subnet-0123456789abcdef0</subnetId>
<groupSet>${this.groupItems(primaryGroups)}</groupSet>
<networkInterfaceSet>${enis
        .map(
          (n) =>
            `<item><networkInterfaceId>${n.networkInterfaceId}</networkInterfaceId><subnetId>subnet-0123456789abcdef0</subnetId><vpcId>${n.vpcId}</vpcId><ownerId>123456789012</ownerId><status>in-use</status><groupSet>${this.groupItems(n.groupIds)}</groupSet></item>`,
        )
        .join('')}</networkInterfaceSet>
<blockDeviceMapping>${i.volumes
        .map(
          (v) =>
            `<item><deviceName>${x(v.deviceName)}</deviceName><ebs><volumeId>${v.volumeId}</volumeId><status>attached</status><attachTime>2026-01-01T00:00:00.000Z</attachTime><deleteOnTermination>true</deleteOnTermination></ebs></item>`,
        )
        .join('')}</blockDeviceMapping>
<tagSet>${tagItems(i.tags)}</tagSet>
</item></instancesSet></item>`;
    });
    return `<reservationSet>${items.join('')}</reservationSet>`;
  }

  private groupItems(ids: string[]): string {
    return ids
      .map(
        (id) =>
          `<item><groupId>${id}</groupId><groupName>${x(this.groups.get(id)?.groupName ?? '')}</groupName></item>`,
      )
      .join('');
  }

  private describeSecurityGroups(p: Record<string, string>): string {
    const ids = list(p, 'GroupId');
    const filters = filtersOf(p);
    const found = [...this.groups.values()].filter(
      (g) =>
        (ids.length === 0 || ids.includes(g.groupId)) &&
        filters.every((f) => {
          if (f.name === 'group-name') return f.values.includes(g.groupName);
          if (f.name === 'vpc-id') return f.values.includes(g.vpcId);
          if (f.name === 'group-id') return f.values.includes(g.groupId);
          throw new Ec2Error('InvalidParameterValue', `The filter '${f.name}' is invalid`);
        }),
    );
    return `<securityGroupInfo>${found
      .map(
        (g) =>
          `<item><ownerId>123456789012</ownerId><groupId>${g.groupId}</groupId><groupName>${x(g.groupName)}</groupName><groupDescription>${x(g.description)}</groupDescription><vpcId>${g.vpcId}</vpcId><ipPermissions>${permissionItems(g.ingress)}</ipPermissions><ipPermissionsEgress>${permissionItems(g.egress)}</ipPermissionsEgress><tagSet>${tagItems(g.tags)}</tagSet></item>`,
      )
      .join('')}</securityGroupInfo>`;
  }

  private createSecurityGroup(p: Record<string, string>): string {
    const name = required(p, 'GroupName');
    const vpcId = required(p, 'VpcId');
    required(p, 'GroupDescription');
    if ([...this.groups.values()].some((g) => g.groupName === name && g.vpcId === vpcId)) {
      throw new Ec2Error(
        'InvalidGroup.Duplicate',
        `The security group '${name}' already exists for VPC '${vpcId}'`,
      );
    }
    const tags = tagSpecifications(p, 'security-group');
    const group = this.addGroup({
      groupId: `sg-${randomBytes(9).toString('hex').slice(0, 17)}`,
      groupName: name,
      vpcId,
      description: p['GroupDescription'] ?? '',
      tags,
    });
    return `<return>true</return><groupId>${group.groupId}</groupId><tagSet>${tagItems(tags)}</tagSet>`;
  }

  private group(p: Record<string, string>): FakeGroup {
    const id = required(p, 'GroupId');
    const g = this.groups.get(id);
    if (!g) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
    return g;
  }

  private authorizeIngress(p: Record<string, string>): string {
    const g = this.group(p);
    for (const perm of permissionsOf(p)) {
      for (const cidr of perm.cidrs) {
        const exists = g.ingress.some(
          (e) =>
            e.protocol === perm.protocol &&
            e.fromPort === perm.fromPort &&
            e.toPort === perm.toPort &&
            e.cidrs.includes(cidr),
        );
        if (exists)
          throw new Ec2Error(
            'InvalidPermission.Duplicate',
            `the specified rule "peer: ${cidr}" already exists`,
          );
      }
      const same = g.ingress.find(
        (e) => e.protocol === perm.protocol && e.fromPort === perm.fromPort && e.toPort === perm.toPort,
      );
      if (same) same.cidrs.push(...perm.cidrs);
      else g.ingress.push(perm);
    }
    return '<return>true</return>';
  }

  private revokeEgress(p: Record<string, string>): string {
    const g = this.group(p);
    for (const perm of permissionsOf(p)) {
      const rule = g.egress.find(
        (e) =>
          e.protocol === perm.protocol &&
          (perm.protocol === '-1' || (e.fromPort === perm.fromPort && e.toPort === perm.toPort)),
      );
      if (!rule || !perm.cidrs.every((c) => rule.cidrs.includes(c))) {
        throw new Ec2Error(
          'InvalidPermission.NotFound',
          'The specified rule does not exist in this security group.',
        );
      }
      rule.cidrs = rule.cidrs.filter((c) => !perm.cidrs.includes(c));
      if (rule.cidrs.length === 0) g.egress.splice(g.egress.indexOf(rule), 1);
    }
    return '<return>true</return>';
  }

  private modifyNetworkInterface(p: Record<string, string>): string {
    const id = required(p, 'NetworkInterfaceId');
    const eni = this.networkInterfaces.get(id);
    if (!eni)
      throw new Ec2Error(
        'InvalidNetworkInterfaceID.NotFound',
        `The networkInterface ID '${id}' does not exist`,
      );
    const groups = list(p, 'SecurityGroupId');
    if (groups.length === 0) throw new Ec2Error('MissingParameter', 'no attribute to modify');
    for (const g of groups) {
      const group = this.groups.get(g);
      if (!group) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${g}' does not exist`);
      if (group.vpcId !== eni.vpcId) {
        throw new Ec2Error(
          'InvalidGroup.NotFound',
          `The security group '${g}' does not exist in VPC '${eni.vpcId}'`,
        );
      }
    }
    eni.groupIds = groups;
    return '<return>true</return>';
  }

  private resource(id: string): Record<string, string> {
    const inst = this.instances.get(id);
    if (inst) return inst.tags;
    const g = this.groups.get(id);
    if (g) return g.tags;
    const s = this.snapshots.get(id);
    if (s) return s.tags;
    throw new Ec2Error('InvalidID', `The ID '${id}' is not valid`);
  }

  private createTags(p: Record<string, string>): string {
    const ids = list(p, 'ResourceId');
    const tags = tagList(p, 'Tag');
    if (ids.length === 0 || tags.length === 0)
      throw new Ec2Error('MissingParameter', 'ResourceId and Tag are required');
    for (const id of ids) {
      const target = this.resource(id);
      for (const t of tags) target[t.key] = t.value ?? '';
    }
    return '<return>true</return>';
  }

  private deleteTags(p: Record<string, string>): string {
    const ids = list(p, 'ResourceId');
    const tags = tagList(p, 'Tag');
    for (const id of ids) {
      const target = this.resource(id);
      for (const t of tags) {
        if (t.value === undefined || target[t.key] === t.value) delete target[t.key];
      }
    }
    return '<return>true</return>';
  }

  private createSnapshot(p: Record<string, string>): string {
    const volumeId = required(p, 'VolumeId');
    const known = [...this.instances.values()].some((i) => i.volumes.some((v) => v.volumeId === volumeId));
    if (!known) throw new Ec2Error('InvalidVolume.NotFound', `The volume '${volumeId}' does not exist.`);
    const snap: FakeSnapshot = {
      snapshotId: `snap-${randomBytes(9).toString('hex').slice(0, 17)}`,
      volumeId,
      description: p['Description'] ?? '',
      tags: tagSpecifications(p, 'snapshot'),
    };
    this.snapshots.set(snap.snapshotId, snap);
    return `<snapshotId>${snap.snapshotId}</snapshotId><volumeId>${volumeId}</volumeId><status>pending</status><startTime>2026-01-01T00:00:00.000Z</startTime><progress></progress><ownerId>123456789012</ownerId><volumeSize>8</volumeSize><description>${x(snap.description)}</description><encrypted>false</encrypted><tagSet>${tagItems(snap.tags)}</tagSet>`;
  }
}

export async function startFakeEc2(): Promise<FakeEc2> {
  return new FakeEc2().start();
}

function encodeRfc3986(v: string): string {
  return encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

// ---- Query-protocol parameter helpers (flattened lists: `Name.1`, `Name.1.Sub.2.Field`) ------------------------

function required(p: Record<string, string>, name: string): string {
  const v = p[name];
  if (v === undefined || v === '')
    throw new Ec2Error('MissingParameter', `The request must contain the parameter ${name}`);
  return v;
}

/** `Prefix.1`, `Prefix.2`, … */
function list(p: Record<string, string>, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; p[`${prefix}.${i}`] !== undefined; i++) out.push(p[`${prefix}.${i}`]!);
  return out;
}

function filtersOf(p: Record<string, string>): Array<{ name: string; values: string[] }> {
  const out: Array<{ name: string; values: string[] }> = [];
  for (let i = 1; p[`Filter.${i}.Name`] !== undefined; i++) {
    out.push({ name: p[`Filter.${i}.Name`]!, values: list(p, `Filter.${i}.Value`) });
  }
  return out;
}

function tagList(
  p: Record<string, string>,
  prefix: string,
): Array<{ key: string; value: string | undefined }> {
  const out: Array<{ key: string; value: string | undefined }> = [];
  for (let i = 1; p[`${prefix}.${i}.Key`] !== undefined; i++) {
    out.push({ key: p[`${prefix}.${i}.Key`]!, value: p[`${prefix}.${i}.Value`] });
  }
  return out;
}

function tagSpecifications(p: Record<string, string>, resourceType: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (let i = 1; p[`TagSpecification.${i}.ResourceType`] !== undefined; i++) {
    if (p[`TagSpecification.${i}.ResourceType`] !== resourceType) {
      throw new Ec2Error('InvalidParameterValue', `TagSpecification resource type must be ${resourceType}`);
    }
    for (const t of tagList(p, `TagSpecification.${i}.Tag`)) tags[t.key] = t.value ?? '';
  }
  return tags;
}

function permissionsOf(p: Record<string, string>): FakePermission[] {
  const out: FakePermission[] = [];
  for (let i = 1; p[`IpPermissions.${i}.IpProtocol`] !== undefined; i++) {
    const base = `IpPermissions.${i}`;
    const cidrs: string[] = [];
    for (let j = 1; p[`${base}.IpRanges.${j}.CidrIp`] !== undefined; j++)
      cidrs.push(p[`${base}.IpRanges.${j}.CidrIp`]!);
    for (let j = 1; p[`${base}.Ipv6Ranges.${j}.CidrIpv6`] !== undefined; j++) {
      cidrs.push(p[`${base}.Ipv6Ranges.${j}.CidrIpv6`]!);
    }
    const from = p[`${base}.FromPort`];
    const to = p[`${base}.ToPort`];
    out.push({
      protocol: p[`${base}.IpProtocol`]!,
      fromPort: from === undefined ? undefined : Number(from),
      toPort: to === undefined ? undefined : Number(to),
      cidrs,
    });
  }
  return out;
}

function permissionItems(perms: FakePermission[]): string {
  return perms
    .map((perm) => {
      const v4 = perm.cidrs.filter((c) => !c.includes(':'));
      const v6 = perm.cidrs.filter((c) => c.includes(':'));
      return `<item><ipProtocol>${perm.protocol}</ipProtocol>${perm.fromPort !== undefined ? `<fromPort>${perm.fromPort}</fromPort>` : ''}${perm.toPort !== undefined ? `<toPort>${perm.toPort}</toPort>` : ''}<groups/><ipRanges>${v4.map((c) => `<item><cidrIp>${c}</cidrIp></item>`).join('')}</ipRanges><ipv6Ranges>${v6.map((c) => `<item><cidrIpv6>${c}</cidrIpv6></item>`).join('')}</ipv6Ranges><prefixListIds/></item>`;
    })
    .join('');
}

function tagItems(tags: Record<string, string>): string {
  return Object.entries(tags)
    .map(([k, v]) => `<item><key>${x(k)}</key><value>${x(v)}</value></item>`)
    .join('');
}

function stateCode(state: FakeInstance['state']): number {
  return { pending: 0, running: 16, stopping: 64, stopped: 80, terminated: 48 }[state];
}

function x(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

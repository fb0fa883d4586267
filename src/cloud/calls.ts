import type {
  CloudCall,
  CloudCallResults,
  CloudCallTemplate,
  CloudIsolation,
  Placeholder,
} from '../ports/cloud-isolation.js';

/** A value only known when the step runs, shown as `text` in the plan. */
export function placeholder(text: string): Placeholder {
  return { placeholder: text };
}

function isPlaceholder(v: unknown): v is Placeholder {
  return typeof v === 'object' && v !== null && 'placeholder' in v;
}

/** Whether `call` is an instance of `template`: equal everywhere except where the template has a placeholder. */
export function matchesTemplate(template: CloudCallTemplate, call: CloudCall): boolean {
  return same(template, call);
}

function same(t: unknown, a: unknown): boolean {
  if (isPlaceholder(t)) return true;
  if (Array.isArray(t)) return Array.isArray(a) && t.length === a.length && t.every((x, i) => same(x, a[i]));
  if (typeof t === 'object' && t !== null) {
    if (typeof a !== 'object' || a === null || Array.isArray(a)) return false;
    const tk = Object.keys(t);
    return (
      tk.length === Object.keys(a).length &&
      tk.every((k) => k in a && same((t as Record<string, unknown>)[k], (a as Record<string, unknown>)[k]))
    );
  }
  return t === a;
}

type Performer<K extends CloudCall['op']> = (
  cloud: CloudIsolation,
  region: string,
  call: Extract<CloudCall, { op: K }>,
) => Promise<CloudCallResults[K]> | Promise<void>;

/** Each op as the port call it stands for: one line each, so that no op can call another's method. */
const PERFORM: { [K in CloudCall['op']]: Performer<K> } = {
  describeInstance: (cloud, region, c) => cloud.describeInstance(region, c.instanceId),
  tag: (cloud, region, c) => cloud.tag(region, c.instanceId, c.tags),
  untag: (cloud, region, c) => cloud.untag(region, c.instanceId, c.keys),
  prepareIsolation: (cloud, region, c) =>
    cloud.prepareIsolation(region, c.vpcId, { managementCidrs: c.managementCidrs, requestId: c.requestId }),
  isolate: (cloud, region, c) => cloud.isolate(region, c.networkInterfaceId, c.isolationGroupId),
  snapshotVolume: (cloud, region, c) =>
    cloud.snapshotVolume(region, c.volumeId, { description: c.description, tags: c.tags }),
  restore: (cloud, region, c) => cloud.restore(region, c.networkInterfaceId, c.groupIds),
};

/** Makes one port call described as data. */
export function performCall<C extends CloudCall>(
  cloud: CloudIsolation,
  region: string,
  call: C,
): Promise<CloudCallResults[C['op']]> {
  // TypeScript cannot tie PERFORM[call.op] to C's own op, hence the cast; the table above is checked op by op.
  const perform = PERFORM[call.op] as unknown as (
    cloud: CloudIsolation,
    region: string,
    call: C,
  ) => Promise<CloudCallResults[C['op']]>;
  return perform(cloud, region, call);
}

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

/** Makes one port call described as data. */
export async function performCall<C extends CloudCall>(
  cloud: CloudIsolation,
  region: string,
  call: C,
): Promise<CloudCallResults[C['op']]> {
  // Each case returns the result type of its op; TypeScript cannot narrow C['op'] from the switch, hence the cast.
  const c = call as CloudCall;
  switch (c.op) {
    case 'describeInstance':
      return (await cloud.describeInstance(region, c.instanceId)) as CloudCallResults[C['op']];
    case 'tag':
      await cloud.tag(region, c.instanceId, c.tags);
      return undefined as CloudCallResults[C['op']];
    case 'untag':
      await cloud.untag(region, c.instanceId, c.keys);
      return undefined as CloudCallResults[C['op']];
    case 'prepareIsolation':
      return (await cloud.prepareIsolation(region, c.vpcId, {
        managementCidrs: c.managementCidrs,
        requestId: c.requestId,
      })) as CloudCallResults[C['op']];
    case 'isolate':
      await cloud.isolate(region, c.networkInterfaceId, c.isolationGroupId);
      return undefined as CloudCallResults[C['op']];
    case 'snapshotVolume':
      return (await cloud.snapshotVolume(region, c.volumeId, {
        description: c.description,
        tags: c.tags,
      })) as CloudCallResults[C['op']];
    case 'restore':
      await cloud.restore(region, c.networkInterfaceId, c.groupIds);
      return undefined as CloudCallResults[C['op']];
  }
}

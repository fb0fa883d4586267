import { readFileSync } from 'node:fs';
import { isNode, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';

/**
 * Parses YAML text against a zod schema. Every problem is reported as `line N: path: problem`, so that a person
 * editing the file at 2 a.m. can find it; all problems are reported at once.
 */
export function parseYaml<S extends z.ZodType>(text: string, schema: S, what: string): z.output<S> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      what,
      doc.errors.map((e) => {
        const line = e.linePos?.[0]?.line;
        return `${line === undefined ? '' : `line ${line}: `}${e.message.split('\n')[0]}`;
      }),
    );
  }
  const data = doc.toJS() ?? {};
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.map(String);
    let line: number | undefined;
    // Walk up the path until a node with a position is found (a missing key has none; its parent does).
    for (let depth = path.length; depth >= 0 && line === undefined; depth--) {
      const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) line = lineCounter.linePos(node.range[0]).line;
    }
    const where = path.length > 0 ? `${path.join('.')}: ` : '';
    return `${line === undefined ? '' : `line ${line}: `}${where}${issue.message}`;
  });
  throw new ConfigError(what, problems);
}

/** Reads a configuration file; one it cannot read is a ConfigError naming the path and the variable that set it. */
export function readConfigFile(path: string, what: string, variable: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(err);
    throw new ConfigError(what, [`${variable}=${path}: ${reason}`]);
  }
}

/** Reads and parses a YAML file; a missing file is a ConfigError naming the path and the variable that set it. */
export function loadYamlFile<S extends z.ZodType>(
  path: string,
  schema: S,
  what: string,
  variable: string,
): z.output<S> {
  return parseYaml(readConfigFile(path, what, variable), schema, `${what} (${path})`);
}

/** Parses durations such as `90s`, `15m`, `2h`, `1d` into milliseconds. */
export function parseDurationMs(value: string): number | undefined {
  const m = /^(\d+)\s*(ms|s|m|h|d)$/.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return n * unit;
}

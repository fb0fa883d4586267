import type { z } from 'zod';
import * as listed from './index.js';
import type { SourceEnvVar } from './source.js';

/*
 * What the rest of ward knows about alert sources, derived from the one list in index.ts. Nothing here names a
 * source: adding one to index.ts adds its route, its variables, its rule and metric name.
 *
 * alert.ts needs the AlertSource type but imports it as a type only: a runtime import from alert.ts back into the
 * sources (which import alert.ts) would be a cycle.
 */

type Listed = (typeof listed)[keyof typeof listed];

/** One of the listed sources (its `name`, `env` and `auth` keep their literal types). */
export type RegisteredAlertSource = Listed;

/** A source's name: `POST /alerts/<name>`, `Alert.source`, the rules' `source:` value, the `source` label. */
export type AlertSource = Listed['name'];

/** The variables one source reads (distributes over a union of sources). */
type EnvVarsOf<M> = M extends { readonly env: infer V } ? Extract<keyof V, string> : never;

/** Every environment variable some source reads. */
export type AlertSourceEnvVar = EnvVarsOf<Listed>;

/** The sources' variables as loadConfig parsed them (unset: undefined). */
export type AlertSourceConfig = { readonly [K in AlertSourceEnvVar]?: string | undefined };

/** Every source, in name order. */
export const alertSourceModules: readonly RegisteredAlertSource[] = Object.values(listed).sort((a, b) =>
  a.name < b.name ? -1 : 1,
);

/** Every source name, for the rules' `source:` matcher. */
export const alertSources: readonly AlertSource[] = alertSourceModules.map((s) => s.name);

const byName = new Map<string, RegisteredAlertSource>(alertSourceModules.map((s) => [s.name, s]));

/** The source for `/alerts/<name>`, or undefined (the name comes from the request path: any string). */
export function findAlertSource(name: string): RegisteredAlertSource | undefined {
  return byName.get(name);
}

export function isAlertSource(name: string): name is AlertSource {
  return byName.has(name);
}

/** Every source variable with its declaration, in source order; throws when two sources claim one variable. */
function collectEnvVars(): Map<AlertSourceEnvVar, SourceEnvVar & { source: AlertSource }> {
  const vars = new Map<AlertSourceEnvVar, SourceEnvVar & { source: AlertSource }>();
  for (const source of alertSourceModules) {
    for (const [name, spec] of Object.entries(source.env) as [AlertSourceEnvVar, SourceEnvVar][]) {
      const other = vars.get(name);
      if (other !== undefined) {
        throw new Error(`alert sources ${other.source} and ${source.name} both declare ${name}`);
      }
      vars.set(name, { ...spec, source: source.name });
    }
  }
  return vars;
}

/** Every source variable: its schema, doc line, secrecy and source. */
export const alertSourceEnvVars: ReadonlyMap<AlertSourceEnvVar, SourceEnvVar & { source: AlertSource }> =
  collectEnvVars();

/** The sources' entries of the env schema (src/config/env.ts spreads them in). */
export const alertSourceEnvShape = Object.fromEntries(
  [...alertSourceEnvVars].map(([name, spec]) => [name, spec.schema]),
) as { [K in AlertSourceEnvVar]: z.ZodType<string | undefined, string | undefined> };

/** Source variables whose values are secrets. */
export const alertSourceSecretVars: readonly AlertSourceEnvVar[] = [...alertSourceEnvVars]
  .filter(([, spec]) => spec.secret)
  .map(([name]) => name);

/** The entries of a comma-separated list variable (SNS topics), blanks dropped. */
export function listValue(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * True when the source's credentials are configured: a token (or, for bearer-or-hmac, a token or a secret), or at
 * least one SNS topic. A disabled source's route answers 404.
 */
export function isAlertSourceEnabled(source: RegisteredAlertSource, config: AlertSourceConfig): boolean {
  const auth = source.auth;
  switch (auth.kind) {
    case 'bearer':
      return config[auth.token] !== undefined;
    case 'bearer-or-hmac':
      return config[auth.token] !== undefined || config[auth.hmacSecret] !== undefined;
    case 'sns-signature':
      return listValue(config[auth.topics]).length > 0;
  }
}

/** Names of the sources `config` enables, in name order. */
export function enabledAlertSources(config: AlertSourceConfig): AlertSource[] {
  return alertSourceModules.filter((s) => isAlertSourceEnabled(s, config)).map((s) => s.name);
}

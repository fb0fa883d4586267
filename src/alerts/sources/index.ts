/**
 * Every alert source ward accepts, one line each, no folder scanning. A new source is one module in this folder
 * (see source.ts) and one line here; the routes, the env schema, the `source` names of rules and metrics follow from
 * this list (registry.ts), and test/unit/alerts-sources.test.ts checks .env.example and docs/ against it.
 */
export { alertmanager } from './alertmanager.js';
export { falco } from './falco.js';
export { generic } from './generic.js';
export { grafana } from './grafana.js';
export { sns } from './sns.js';
export { wazuh } from './wazuh.js';

/**
 * ward's layers, checked by `npm run lint` (see README "Layout"):
 *
 *   entry points (slack/, alerts/, cloud/watcher, main.ts) → core/requests (openRequest) → core/approvals
 *   core talks out only through ports/; adapters/ implement ports; slack/ + render/ implement the RequestNotifier.
 *
 * Every rule is an error: a cycle or an import across a layer fails the lint.
 */
/** Packages core may use: Node's own modules and zod (commands declare their arguments as zod schemas). */
const CORE_ALLOWED_PACKAGES = ['zod'];

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment:
        'Modules importing each other in a circle cannot be read, tested or loaded on their own. A circle closed only by `import type` is erased at compile time and allowed: the alert source registry derives AlertSource from the listed sources, which use Alert (src/alerts/alert.ts explains).',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'core-speaks-no-slack',
      comment:
        'core/ decides; it does not draw or transport. Messages, modals and vendor SDKs are behind ports/ (src/slack, src/render, src/adapters implement them).',
      severity: 'error',
      from: { path: '^src/core/' },
      to: {
        path: '^src/(slack|render|adapters|http|alerts|cloud|actions|sandbox|fake-slack|cli)/|^src/(main|log|metrics|shutdown)\\.ts$',
      },
    },
    {
      name: 'core-no-vendor-packages',
      comment:
        'core/ imports no vendor package (prom-client, pino, @slack/*, ioredis…): they reach core through ports.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: {
        dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'],
        pathNot: `node_modules/(${CORE_ALLOWED_PACKAGES.join('|')})/`,
      },
    },
    {
      name: 'ports-are-types',
      comment: 'ports/ are interfaces: they import nothing but types (and no vendor package at all).',
      severity: 'error',
      from: { path: '^src/ports/' },
      to: { dependencyTypesNot: ['type-only', 'core'] },
    },
    {
      name: 'ports-no-vendor-packages',
      severity: 'error',
      from: { path: '^src/ports/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'render-is-pure',
      comment: 'render/ builds Block Kit from data: no adapters, no Slack listeners, no I/O.',
      severity: 'error',
      from: { path: '^src/render/' },
      to: { path: '^src/(adapters|slack|http|alerts/install|cloud/watcher|main)' },
    },
    {
      name: 'adapters-implement-ports',
      comment: 'adapters/ implement ports; they never reach into core decisions, listeners or entry points.',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(core/(requests|approvals)|slack|render|alerts|cloud/watcher|main)' },
    },
    {
      name: 'commands-declare',
      comment:
        'commands/ declare; they do not reach the pipeline, the approvals core, adapters or listeners.',
      severity: 'error',
      from: { path: '^commands/' },
      to: {
        path: '^src/(core/(requests|approvals/(request-service|run-approved|sweeper|approvals))|adapters|slack/|main)',
      },
    },
    {
      name: 'only-main-wires',
      comment:
        'main.ts is the composition root: nothing imports it but the sandbox, which starts ward in-process.',
      severity: 'error',
      from: { pathNot: '^src/(main\\.ts$|sandbox/)' },
      to: { path: '^src/main\\.ts$' },
    },
  ],
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/sandbox/public/' },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

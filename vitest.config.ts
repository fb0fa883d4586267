import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start real processes (ward, redis-server, sshd); two cores, so keep fan-out modest.
    maxWorkers: 2,
    reporters: ['default'],
    // Tests run in a random order within each file (the seed is printed; rerun with --sequence.seed=N), so that no
    // test can lean on state an earlier one left behind.
    sequence: { shuffle: { files: false, tests: true } },
  },
});

import { defineConfig } from 'vitest/config';

// Two tiers (STYLE §9). Unit and component tests are fast and run in
// parallel. Cluster tests start real processes on loopback and inject faults:
// they run after the fast tier, one file at a time, so two clusters never
// compete for the 2 cores and skew failure detection.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/sim/**/*.test.ts', 'test/component/**/*.test.ts'],
          sequence: { groupOrder: 0 },
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          fileParallelism: false,
          maxWorkers: 1,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});

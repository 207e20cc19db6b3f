export { rng, type Rng } from '../../src/core/rng.ts';

/** The seed of this run: TESSERA_TEST_SEED replays one, otherwise a fresh one (printed in the test name). */
export const TEST_SEED = Number(process.env.TESSERA_TEST_SEED ?? Date.now() % 1_000_000);

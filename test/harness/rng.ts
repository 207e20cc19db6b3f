/** mulberry32: a small seeded PRNG so a failing schedule can be replayed with TESSERA_TEST_SEED. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: TESSERA_TEST_SEED replays one, otherwise a fresh one (printed in the test name). */
export const TEST_SEED = Number(process.env.TESSERA_TEST_SEED ?? Date.now() % 1_000_000);

/** Default for `--full-every`: a new full base after this many increments (its own file so the CLI's help loads nothing else). */
export const DEFAULT_FULL_EVERY = 16;

/**
 * The train CLI's `--flat-budget`: a new full base once the chain's flat increment holds more than this
 * fraction of the base's bytes, which bounds recovery (base + flat) near 1 + 3 × budget full loads as measured
 * (README, bench:checkpoint): 0.06 → ≈ 1.2×.
 */
export const DEFAULT_FLAT_BUDGET = 0.06;

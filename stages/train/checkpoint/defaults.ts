/** Default for `--full-every`: a new full base after this many increments (its own file so the CLI's help loads nothing else). */
export const DEFAULT_FULL_EVERY = 16;

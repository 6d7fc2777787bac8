/**
 * Jobs that die with their parent. A sweep starts each job with an IPC channel and
 * {@link EXIT_WITH_PARENT_ENV} set; the job calls {@link exitWithParent} at start-up.
 * When the parent dies — even by SIGKILL, which it cannot catch — the channel
 * closes, the job stops, and its exit handlers release its directory locks.
 * Ctrl-C and SIGTERM also become a normal exit, so locks are released then too.
 */
export const EXIT_WITH_PARENT_ENV = 'HOTCOLD_EXIT_WITH_PARENT';

/** Exit status of a job stopped because its parent went away. */
export const EXIT_PARENT_GONE = 3;

/** Install the watch (when this process was started as a job) and the signal handlers. */
export function exitWithParent(): void {
  if (process.env[EXIT_WITH_PARENT_ENV] === '1' && process.channel) {
    process.channel.unref(); // the channel alone must not keep the job alive
    process.once('disconnect', () => {
      process.stderr.write('hotcold: the parent sweep exited; stopping this job (its last committed checkpoint stays usable)\n');
      process.exit(EXIT_PARENT_GONE);
    });
  }
  for (const [sig, n] of [['SIGINT', 2], ['SIGTERM', 15]] as const) {
    process.once(sig, () => process.exit(128 + n)); // exit handlers release locks
  }
}

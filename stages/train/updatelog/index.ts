/**
 * The continuous update log (`hotcold train --log redis://…`): embedding-row updates streamed to
 * Redis Streams every N steps, markers at checkpoints, recovery = checkpoint + replay. See README.md.
 */
export { LogDriver, type UpdateLogFlags } from './driver.js';
export { UpdateLog, type LogStats } from './redis-log.js';
export { scanLog, replayLog, markerOf, type LogScan, type Marker } from './scan.js';

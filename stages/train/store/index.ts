/** The cold store: interface, backends, and the factory train.ts calls. */
import { configHash } from '../../../pipeline/hash.js';
import type { TrainConfig } from '../config.js';
import type { Device } from '../device.js';
import type { ConnectOptions } from './connect.js';
import { checkPrefix, parseStoreAddress } from './layout.js';
import type { ColdStore } from './types.js';
import { isParitySpec } from './parity/layout.js';

export type { ColdStore, StoreReport, BatchSource, EvalGather } from './types.js';
export { MemoryColdStore } from './memory.js';
export { parseStoreAddress } from './layout.js';

/** The store fingerprint of a run: the data it trains on, its config and dim. */
export function storeFingerprint(dataHash: string, cfg: TrainConfig): string {
  return configHash({ data: dataHash, config: cfg, dim: cfg.model.dim });
}

/** Default key prefix of a run: `hc:` + a hash of its resolved output directory. */
export function defaultPrefix(outDir: string): string {
  return checkPrefix(`hc:${configHash({ out: outDir }).slice(0, 12)}`);
}

export interface ColdStoreSetup {
  cfg: TrainConfig;
  sizes: number[];
  dataHash: string;
  /** resolved run directory (for the default prefix) */
  out: string;
  connect?: ConnectOptions;
  maxInFlight?: number;
  fastPath?: boolean;
  log?: (msg: string) => void;
}

/**
 * The Trainer's cold-store factory for a `--cold-store` value, or undefined for `memory`
 * (the Trainer's default). The redis backend (and ioredis) load only when asked for.
 */
export async function coldStoreFactory(spec: string | undefined, s: ColdStoreSetup): Promise<((device: Device) => ColdStore) | undefined> {
  if (isParitySpec(spec)) return (await import('./parity/index.js')).parityStoreFactory(spec!, s, storeFingerprint(s.dataHash, s.cfg), defaultPrefix(s.out));
  const addr = parseStoreAddress(spec ?? 'memory');
  if (!addr) return undefined;
  const { RedisColdStore } = await import('./redis.js');
  const prefix = addr.prefix ?? defaultPrefix(s.out);
  return (device) => new RedisColdStore(device, {
    address: addr, prefix, fingerprint: storeFingerprint(s.dataHash, s.cfg), sizes: s.sizes, dim: s.cfg.model.dim,
    opt: { ...s.cfg.optim.sparse }, batchSize: s.cfg.train.batchSize, evalBatchSize: s.cfg.train.evalBatchSize, maxInFlight: s.maxInFlight, fastPath: s.fastPath, connect: s.connect, log: s.log,
  });
}

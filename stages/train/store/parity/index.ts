/** The parity cold store (ECRec on Redis): the factory the store index calls for `redis-parity://`. */
import type { Device } from '../../device.js';
import type { ColdStoreSetup } from '../index.js';
import type { ColdStore } from '../types.js';
import { parseParityAddress } from './layout.js';

export { isParitySpec, parseParityAddress } from './layout.js';

/** The Trainer's cold-store factory for a `redis-parity://…?data=k&parity=r` value. */
export async function parityStoreFactory(spec: string, s: ColdStoreSetup, fingerprint: string, prefix: string): Promise<(device: Device) => ColdStore> {
  const addr = parseParityAddress(spec);
  const { ParityColdStore } = await import('./store.js');
  return (device) => new ParityColdStore(device, {
    address: addr, prefix: addr.prefix ?? prefix, fingerprint, sizes: s.sizes, dim: s.cfg.model.dim,
    opt: { ...s.cfg.optim.sparse }, batchSize: s.cfg.train.batchSize, maxInFlight: s.maxInFlight, log: s.log,
  });
}

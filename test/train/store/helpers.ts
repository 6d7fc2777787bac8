/** Shared helpers of the cold-store tests: a run's final parameters from either backend. */
import { join } from 'node:path';
import type { RunMetrics } from '../../../pipeline/run-metrics.js';
import type { TrainConfig } from '../../../stages/train/config.js';
import { connectStore } from '../../../stages/train/store/connect.js';
import { parseStoreAddress } from '../../../stages/train/store/layout.js';
import { RedisTables } from '../../../stages/train/store/redis-tables.js';
import { isParitySpec } from '../../../stages/train/store/parity/layout.js';
import { readParityStore } from './parity/helpers.js';
import { train, type TrainOptions } from '../../../stages/train/train.js';
import type { Trainer } from '../../../stages/train/trainer.js';
import type { TrainData } from '../../fixtures/train-data.js';

export const TINY = {
  model: { dim: 8, mlpBot: '13-32-8', mlpTop: '32-1' },
  train: { batchSize: 128, epochs: 2, evalEvery: 20, logEvery: 5 },
  slipstream: { windowStart: 4, windowFraction: 0.1, tolerance: 0.05 },
  fae: { rounds: 4 },
};

export interface Finished {
  m: RunMetrics;
  /** dense params, dense optimizer state, then per table weights and accumulators (hot rows from the device) */
  p: Float32Array[];
}

/**
 * Train and return the final parameters. Memory: the host tables after the final sync. Redis:
 * the store's rows (read back after the run), hot rows from the device's hot table.
 */
export async function runTo(d: TrainData, o: Omit<TrainOptions, 'data' | 'quiet'>): Promise<Finished> {
  let t: Trainer | null = null;
  let snap: { dense: Float32Array[]; hot: Float32Array | null; hotAcc: Float32Array | null; tables: Float32Array[] } | null = null;
  const m = await train({
    ...o, data: d.dataDir, quiet: true,
    hooks: {
      ...o.hooks,
      onFinish: (tr) => {
        t = tr;
        snap = {
          dense: [tr.model.params.slice(), tr.denseOpt.state!.slice()],
          hot: tr.device.hot?.weights.slice() ?? null, hotAcc: tr.device.hot?.accum?.slice() ?? null,
          tables: tr.device.tables.flatMap((x) => [x.weights.slice(), x.accum!.slice()]),
        };
      },
    },
  });
  const s = snap!;
  if (!o.coldStore || o.coldStore === 'memory') return { m, p: [...s.dense, ...s.tables] };
  const cfg = o.config;
  const tables = await readStore(o.coldStore, cfg, d.tableSizes);
  // hot rows: the device's copy is the current one
  const tr = t as unknown as Trainer;
  const rev = tr.device.reverse;
  if (rev) {
    const dim = cfg.model.dim;
    for (let f = 0; f < d.tableSizes.length; f++) {
      const rv = rev[f]!;
      for (let r = 0; r < rv.length; r++) {
        const h = rv[r]!;
        if (h < 0) continue;
        tables[2 * f]!.set(s.hot!.subarray(h * dim, h * dim + dim), r * dim);
        tables[2 * f + 1]![r] = s.hotAcc![h]!;
      }
    }
  }
  return { m, p: [...s.dense, ...tables] };
}

/** Every row of a run's store: per table weights then accumulators. */
export async function readStore(spec: string, cfg: TrainConfig, sizes: number[]): Promise<Float32Array[]> {
  if (isParitySpec(spec)) return readParityStore(spec, cfg, sizes);
  const addr = parseStoreAddress(spec)!;
  const client = await connectStore(addr);
  try {
    const meta = (await RedisTables.readMeta(client, addr, addr.prefix!))!;
    const rt = new RedisTables(client, addr, addr.prefix!, { fingerprint: meta.fingerprint, dim: cfg.model.dim, opt: cfg.optim.sparse, sizes, seeds: meta.seeds });
    const dim = cfg.model.dim;
    const out = sizes.flatMap((n) => [new Float32Array(n * dim), new Float32Array(n)]);
    await rt.readAll((t, r0, n, v) => {
      for (let i = 0; i < n; i++) {
        out[2 * t]!.set(v.subarray(i * (dim + 1), i * (dim + 1) + dim), (r0 + i) * dim);
        out[2 * t + 1]![r0 + i] = v[i * (dim + 1) + dim]!;
      }
    });
    return out;
  } finally {
    client.disconnect();
  }
}

/** Index of the first array that differs, or −1. */
export function firstDiff(a: Float32Array[], b: Float32Array[]): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (x.length !== y.length || Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength)) !== 0) return i;
  }
  return -1;
}

export const outDir = (d: TrainData, name: string): string => join(d.root, name);

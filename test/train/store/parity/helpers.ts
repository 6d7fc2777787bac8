/** Helpers of the parity-store tests: k + r standalone servers, and a store's rows read back (reconstructed where a node is down). */
import type { TrainConfig } from '../../../../stages/train/config.js';
import { parseParityAddress } from '../../../../stages/train/store/parity/layout.js';
import { ParityTables } from '../../../../stages/train/store/parity/tables.js';
import { startRedis, type RedisHandle } from '../../../fixtures/redis.js';

/** n standalone servers (one handle each: kill(0) / restart(0)). */
export async function startNodes(n: number): Promise<RedisHandle[]> {
  return Promise.all(Array.from({ length: n }, () => startRedis()));
}

export async function stopNodes(hs: RedisHandle[] | undefined): Promise<void> {
  for (const h of hs ?? []) await h.stop();
}

/** `redis-parity://…?data=k&parity=r&prefix=P[&spare=…]` over the first k + r handles (the rest are spares when `spares`). */
export function paritySpec(hs: RedisHandle[], k: number, r: number, prefix: string, spares = 0): string {
  const hp = (h: RedisHandle): string => `127.0.0.1:${h.nodes[0]!.port}`;
  const sp = spares > 0 ? `&spare=${hs.slice(k + r, k + r + spares).map(hp).join(',')}` : '';
  return `redis-parity://${hs.slice(0, k + r).map(hp).join(',')}?data=${k}&parity=${r}&prefix=${prefix}${sp}`;
}

/** The meta's fingerprint from any node that answers, and a connected ParityTables. */
export async function openTables(spec: string, cfg: TrainConfig, sizes: number[]): Promise<ParityTables> {
  const addr = parseParityAddress(spec);
  const probe = new ParityTables(addr, addr.prefix!, { fingerprint: '', dim: cfg.model.dim, opt: cfg.optim.sparse, sizes });
  await probe.connect({ allowDown: true });
  let fp = '';
  for (const nd of probe.nodes) if (nd.state === 'ok') { fp = (await probe.readMeta(nd.n))?.fingerprint ?? fp; if (fp) break; }
  probe.close();
  const t = new ParityTables(addr, addr.prefix!, { fingerprint: fp, dim: cfg.model.dim, opt: cfg.optim.sparse, sizes });
  await t.connect({ allowDown: true });
  // a replacement whose rebuild was stopped (the run ended first) holds part of its rows: down
  for (const nd of t.nodes) if (nd.state === 'ok' && !(await t.readMeta(nd.n))?.complete) t.lose(nd.n, new Error('rebuild not finished'));
  return t;
}

/** Every row of a parity store: per table weights then accumulators. */
export async function readParityStore(spec: string, cfg: TrainConfig, sizes: number[]): Promise<Float32Array[]> {
  const t = await openTables(spec, cfg, sizes);
  try {
    const dim = cfg.model.dim;
    const nf = t.nf;
    const out = sizes.flatMap((n) => [new Float32Array(n * dim), new Float32Array(n)]);
    await t.readAll((tt, r0, n, v) => {
      for (let i = 0; i < n; i++) {
        out[2 * tt]!.set(v.subarray(i * nf, i * nf + dim), (r0 + i) * dim);
        if (nf > dim) out[2 * tt + 1]![r0 + i] = v[i * nf + dim]!;
      }
    });
    return out;
  } finally {
    t.close();
  }
}

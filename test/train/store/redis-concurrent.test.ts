import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../pipeline/rng.js';
import { applyRow, BatchRows, KeyCache } from '../../../stages/train/store/batch-rows.js';
import { connectStore, type StoreClient } from '../../../stages/train/store/connect.js';
import { parseStoreAddress } from '../../../stages/train/store/layout.js';
import { RedisTables, type TablesSpec } from '../../../stages/train/store/redis-tables.js';
import { REDIS_MISSING, startCluster, type RedisHandle } from '../../fixtures/redis.js';

const F = 26;

describe.skipIf(REDIS_MISSING !== null)('redis cold store: concurrent writers through the Function', () => {
  let cluster: RedisHandle;
  beforeAll(async () => {
    cluster = await startCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  for (const shortcut of [false, true]) it(`4 writers × 50 updates of the same rows, interleaved on 3 masters: no update lost (${shortcut ? 'with the rows each writer read once, stale after the first update' : 'gradients only'})`, async () => {
    const addr = parseStoreAddress(`${cluster.address}?prefix=t-conc-${shortcut}`)!;
    const sizes = Array.from({ length: F }, (_, t) => 40 + t);
    const spec: TablesSpec = { fingerprint: 'conc', dim: 4, opt: { kind: 'adagrad', lr: 0.01, eps: 1e-8, initAccum: 0.5 }, sizes };
    const clients: StoreClient[] = [];
    for (let w = 0; w < 4; w++) clients.push(await connectStore(addr));
    try {
      const tables = clients.map((c) => new RedisTables(c, addr, addr.prefix!, spec));
      const init = await tables[0]!.create(new Rng(3));
      for (const t of tables.slice(1)) t.useSeeds(init.seeds);
      // every writer updates the same 8 inputs' rows (duplicates inside a batch are summed once per row)
      const B = 8;
      const cats = new Int32Array(B * F);
      for (let b = 0; b < B; b++) for (let f = 0; f < F; f++) cats[b * F + f] = (b * 5 + f) % 33;
      const grad = new Float32Array(B * F * spec.dim).fill(1);
      const rows = tables.map(() => new BatchRows(spec.dim, F));
      rows.forEach((r) => r.plan(cats, B, null, sizes, new KeyCache(addr.prefix!, F)));
      rows.forEach((r) => r.accumulate(B, grad));
      // each writer's old rows = what it read at the start (never written: their initial values, fresh);
      // shortcut: new rows = one update of them
      const nf = spec.dim + 1;
      const before: Buffer[][] = [];
      const fresh: Buffer[][] = [];
      const after: Buffer[][] = [];
      for (let w = 0; w < tables.length; w++) {
        const r = rows[w]!;
        await Promise.all(r.requests.map(async (q) => r.fill(q, await tables[w]!.readRows(q), nf, init)));
        before.push(r.requests.map((q) => r.rowsOf(q, r.vals, nf)));
        fresh.push(r.requests.map((q) => r.freshOf(q)));
        for (let u = 0; u < r.U; u++) applyRow(spec.opt, spec.dim, r.vals, u * nf, r.vals, u * nf + spec.dim, r.acc, u * spec.dim);
        after.push(r.requests.map((q) => r.rowsOf(q, r.vals, nf)));
      }
      expect(rows[0]!.fresh.subarray(0, rows[0]!.U).every((x) => x === 1)).toBe(true);
      const K = 50;
      let conflicts = 0;
      await Promise.all(tables.map(async (t, w) => {
        for (let k = 0; k < K; k++) {
          const n = await Promise.all(rows[w]!.requests.map((q, i) => t.updateRows(q, rows[w]!.grads(q), before[w]![i]!, fresh[w]![i]!, shortcut ? after[w]![i] : undefined)));
          conflicts += n.reduce((a, b) => a + b, 0);
        }
      }));
      // every row but the first update of each took the server's arithmetic
      expect(conflicts).toBe(4 * K * rows[0]!.U - (shortcut ? rows[0]!.U : 0));
      // accumulator of row u: initAccum + Σ mean(g²) = 0.5 + 4·K·c², c = the row's count in the batch (exact in fp32)
      const r0 = rows[0]!;
      const count = new Map<number, number>();
      for (let i = 0; i < B * F; i++) count.set(r0.local[i]!, (count.get(r0.local[i]!) ?? 0) + 1);
      const got = new Map<string, number>();
      await tables[0]!.readAll((t, s, n, v) => {
        for (let i = 0; i < n; i++) got.set(`${t}:${s + i}`, v[i * 5 + 4]!);
      });
      let checked = 0;
      for (let u = 0; u < r0.U; u++) {
        const c = count.get(u)!;
        expect(got.get(`${r0.uT[u]}:${r0.uR[u]}`)).toBe(0.5 + 4 * K * c * c);
        checked++;
      }
      expect(checked).toBe(r0.U);
      // rows nobody updated keep the initial accumulator
      expect(got.get('25:64')).toBe(0.5);
    } finally {
      for (const c of clients) c.disconnect();
    }
  }, 60_000);
});

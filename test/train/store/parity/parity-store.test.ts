import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../../pipeline/rng.js';
import { allocBatch, NUM_TABLES, type Batch } from '../../../../stages/train/data/batch.js';
import { Device } from '../../../../stages/train/device.js';
import type { SparseOptConfig } from '../../../../stages/train/model/embedding.js';
import { MemoryColdStore } from '../../../../stages/train/store/memory.js';
import { parseParityAddress } from '../../../../stages/train/store/parity/layout.js';
import { ParityColdStore } from '../../../../stages/train/store/parity/store.js';
import { openParity, scrubTables, storeRebuild, storeScrub } from '../../../../stages/train/store/parity/tools.js';
import type { BatchSource, ColdStore } from '../../../../stages/train/store/types.js';
import { REDIS_MISSING, type RedisHandle } from '../../../fixtures/redis.js';
import { firstDiff } from '../helpers.js';
import { paritySpec, startNodes, stopNodes } from './helpers.js';

/** 20 … 595 rows: partial last blocks, partial last stripes, tables with fewer blocks than k */
const SIZES = Array.from({ length: NUM_TABLES }, (_, t) => 20 + 23 * t);
const DIM = 4;
const OPT: SparseOptConfig = { kind: 'adagrad', lr: 0.05, eps: 1e-8, initAccum: 0.1 };
const B = 64;

class ListSource implements BatchSource {
  private i = 0;
  constructor(private readonly list: Int32Array[]) {}
  start(): void { this.i = 0; }
  next(b: Batch): Promise<boolean> {
    if (this.i >= this.list.length) return Promise.resolve(false);
    b.size = B;
    b.cats.set(this.list[this.i++]!);
    return Promise.resolve(true);
  }
}

function randomBatches(seed: number, n: number): Int32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const c = new Int32Array(B * NUM_TABLES);
    for (let b = 0; b < B; b++) for (let f = 0; f < NUM_TABLES; f++) c[b * NUM_TABLES + f] = rng.int(SIZES[f]!);
    return c;
  });
}

/** Train the store on the batches with seeded random gradients; a failure thrown by the store ends the loop (returned). */
async function drive(store: ColdStore, list: Int32Array[], seed: number): Promise<unknown> {
  const src = store.wrap(new ListSource(list));
  src.start(0, 0);
  const b = allocBatch(B);
  const out = new Float32Array(B * NUM_TABLES * DIM);
  const g = new Float32Array(B * NUM_TABLES * DIM);
  const rng = new Rng(seed);
  try {
    while (await src.next(b)) {
      await store.ready();
      store.gather(b.cats, B, out);
      for (let i = 0; i < g.length; i++) g[i] = rng.float() - 0.5;
      store.update(b.cats, B, g);
    }
    await store.barrier();
  } catch (e) {
    return e;
  }
  return null;
}

/** The memory backend after the same batches: per table weights then accumulators. */
async function reference(list: Int32Array[], seed: number): Promise<Float32Array[]> {
  const dev = new Device(SIZES, DIM, OPT, null);
  dev.init(new Rng(5));
  await drive(new MemoryColdStore(dev), list, seed);
  return dev.tables.flatMap((t) => [t.weights, t.accum!]);
}

async function parityStore(spec: string): Promise<ParityColdStore> {
  const dev = new Device(SIZES, DIM, OPT, null);
  const addr = parseParityAddress(spec);
  const s = new ParityColdStore(dev, { address: addr, prefix: addr.prefix!, fingerprint: 'fp-test', sizes: SIZES, dim: DIM, opt: OPT, batchSize: B, autoRebuild: false });
  await s.open(new Rng(5));
  return s;
}

async function rowsOf(spec: string): Promise<Float32Array[]> {
  const T = await openParity(spec);
  try {
    const out = SIZES.flatMap((n) => [new Float32Array(n * DIM), new Float32Array(n)]);
    await T.readAll((t, r0, n, v) => {
      for (let i = 0; i < n; i++) {
        out[2 * t]!.set(v.subarray(i * (DIM + 1), i * (DIM + 1) + DIM), (r0 + i) * DIM);
        out[2 * t + 1]![r0 + i] = v[i * (DIM + 1) + DIM]!;
      }
    });
    return out;
  } finally {
    T.close();
  }
}

async function scrub(spec: string, repair = false): Promise<Awaited<ReturnType<typeof scrubTables>>> {
  const T = await openParity(spec);
  try {
    return await scrubTables(T, repair);
  } finally {
    T.close();
  }
}

describe.skipIf(REDIS_MISSING !== null)('parity cold store: code, reconstruction, intents, scrub', () => {
  let hs: RedisHandle[];
  const list = randomBatches(11, 10);
  let ref: Float32Array[];
  beforeAll(async () => {
    hs = await startNodes(5);
    ref = await reference(list, 3);
  }, 30_000);
  afterEach(async () => {
    for (const h of hs) if (h.nodes[0]!.proc.exitCode !== null || h.nodes[0]!.proc.signalCode !== null) await h.restart(0);
  });
  afterAll(async () => stopNodes(hs));

  for (const [k, r] of [[4, 1], [3, 2], [2, 3]] as const) {
    it(`k = ${k}, r = ${r}: after random updates the parity equals the code of the data, and the rows equal the memory backend's`, async () => {
      const spec = paritySpec(hs, k, r, `code-${k}-${r}`);
      const s = await parityStore(spec);
      expect(await drive(s, list, 3)).toBeNull();
      await s.close();
      const rep = await scrub(spec);
      expect(rep.mismatches).toEqual([]);
      expect(rep.intents).toEqual([]);
      expect(rep.unchecked).toBe(0);
      expect(firstDiff(await rowsOf(spec), ref)).toBe(-1);
    }, 30_000);
  }

  it('a trainer starting on the store (its lease taken, two nodes not yet written): scrub --repair is refused as locked, not taken for two lost nodes; without the lease those nodes are down', async () => {
    const spec = paritySpec(hs, 4, 1, 'starting');
    const s = await parityStore(spec);
    await s.close();
    const cli = (i: number, ...args: string[]): string => spawnSync('redis-cli', ['-p', String(hs[i]!.nodes[0]!.port), ...args], { encoding: 'utf8' }).stdout.trim();
    // as ParityTables.writeAll begins: meta incomplete first, then the sentinels
    for (const i of [0, 1]) {
      const meta = JSON.parse(cli(i, 'GET', 'starting:pmeta')) as Record<string, unknown>;
      cli(i, 'SET', 'starting:pmeta', JSON.stringify({ ...meta, complete: false }));
    }
    cli(1, 'DEL', 'starting:fp');
    const lease = JSON.stringify({ pid: 4242, host: 'elsewhere', since: new Date().toISOString() });
    for (let i = 0; i < 5; i++) cli(i, 'SET', 'starting:trainer', lease, 'PX', '60000');
    await expect(storeScrub(spec, { repair: true })).rejects.toMatchObject({ code: 'locked', message: expect.stringMatching(/a trainer is running on this store \(pid 4242 on host elsewhere/) });
    for (let i = 0; i < 5; i++) cli(i, 'DEL', 'starting:trainer');
    await expect(storeScrub(spec, { repair: true })).rejects.toMatchObject({ message: expect.stringMatching(/lost 2 nodes .*its rebuild did not finish \(no complete meta\)/) });
  }, 30_000);

  it('k = 4, r = 1: every row of each lost data node is reconstructed; an offline rebuild onto the node restarted empty restores full redundancy', async () => {
    const spec = paritySpec(hs, 4, 1, 'lost');
    const s = await parityStore(spec);
    expect(await drive(s, list, 3)).toBeNull();
    await s.close();
    for (let i = 0; i < 4; i++) {
      await hs[i]!.kill(0);
      expect(firstDiff(await rowsOf(spec), ref)).toBe(-1);
      await hs[i]!.restart(0);
      const rb = await storeRebuild(spec, { node: String(i) });
      expect(rb.blocks).toBeGreaterThan(0);
      const rep = await scrub(spec);
      expect([rep.mismatches.length, rep.unchecked]).toEqual([0, 0]);
    }
    // the parity node too, then the data read with no parity at all
    await hs[4]!.kill(0);
    await hs[4]!.restart(0);
    await storeRebuild(spec, { node: '4' });
    expect((await scrub(spec)).mismatches).toEqual([]);
  }, 60_000);

  it('k = 3, r = 2: any two lost data nodes are reconstructed exactly', async () => {
    const spec = paritySpec(hs, 3, 2, 'lost2');
    const s = await parityStore(spec);
    expect(await drive(s, list, 3)).toBeNull();
    await s.close();
    await hs[0]!.kill(0);
    await hs[2]!.kill(0);
    expect(firstDiff(await rowsOf(spec), ref)).toBe(-1);
  }, 30_000);

  for (const phase of ['intent-partial', 'parity', 'data-partial'] as const) {
    it(`a trainer dying after phase '${phase}' of an update: the intent names the rows, scrub --repair leaves data and parity consistent`, async () => {
      const spec = paritySpec(hs, 3, 2, `phase-${phase}`);
      const s = await parityStore(spec);
      const before = list.slice(0, 6);
      expect(await drive(s, before, 3)).toBeNull();
      s.faultAfter = phase;
      const e = await drive(s, list.slice(6, 8), 4);
      expect(String(e)).toContain(`stopped after phase '${phase}'`);
      await s.close();
      const rep = await scrub(spec);
      expect(rep.intents.length).toBe(1);
      expect(rep.intents[0]!.rows.length).toBeGreaterThan(100);
      // parity already holds the update, the data (all or some of it) not yet
      expect(rep.mismatches.length).toBeGreaterThan(0);
      const fixed = await scrub(spec, true);
      expect(fixed.repaired).toBeGreaterThan(0);
      const again = await scrub(spec);
      expect([again.mismatches, again.intents]).toEqual([[], []]);
      // consistent: every data row reconstructed from parity equals the stored one
      const stored = await rowsOf(spec);
      await hs[1]!.kill(0);
      await hs[2]!.kill(0);
      expect(firstDiff(await rowsOf(spec), stored)).toBe(-1);
    }, 30_000);
  }

  it('scrub finds a corrupted row and names its row id', async () => {
    const spec = paritySpec(hs, 4, 1, 'corrupt');
    const s = await parityStore(spec);
    expect(await drive(s, list.slice(0, 3), 3)).toBeNull();
    await s.close();
    // table C8 (181 rows), row 100: block 3 → data node 3, offset 4
    const r = spawnSync('redis-cli', ['-p', String(hs[3]!.nodes[0]!.port), 'SETRANGE', 'corrupt:d:7:3', String(4 * (DIM + 1) * 4 + 2), 'X'], { encoding: 'utf8' });
    expect(r.stdout.trim()).toMatch(/^\d+$/);
    const rep = await scrub(spec);
    expect(rep.mismatches).toEqual([{ table: 8, stripe: 0, offset: 4, parityNode: 0, rows: [4, 36, 68, 100] }]);
  }, 30_000);
});

/**
 * Graph partition of the input–embedding bipartite graph (HET-GMP's idea, with a streaming
 * partitioner in place of its multilevel one): assign training inputs to K workers so that
 * each worker's inputs touch rows the others touch little, then give every row an owner.
 *
 *     LDG (linear deterministic greedy, Stanton & Kliot 2012), one pass over a seeded sample:
 *       input i with rows R_i → worker argmax_k |R_i ∩ A_k| · (1 − n_k / C),  C = ⌈N/K⌉
 *       (ties: fewer inputs, then the lower index); A_k ∪= R_i, n_k += 1
 *     row owner = the worker whose sampled inputs access the row most (ties: lower index);
 *       rows the sample never saw have no owner (255) and fall back to the hash
 *     cut = fraction of the sample's row accesses that touch a row accessed by ≥ 2 workers,
 *       for the LDG assignment and for a seeded random one
 *
 * Runs once per run directory as its own step: `<out>/partition/` holds owners.bin (one byte
 * per row, tables 0..25 then the hot table), report.json (cut, balance, seconds) and
 * manifest.json (written last, with the fingerprint and file checksums); a run resumed with
 * the same data, K and sample reuses it.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../../pipeline/atomic.js';
import { PipelineError } from '../../../pipeline/errors.js';
import { configHash, sha256 } from '../../../pipeline/hash.js';
import { Rng } from '../../../pipeline/rng.js';
import type { TrainConfig } from '../config.js';
import { allocBatch, NUM_TABLES } from '../data/batch.js';
import type { TrainInputs } from '../setup.js';

/** What the partitioner reports (report.json, and metrics.json `parallel.cut`). */
export interface PartitionReport {
  workers: number;
  /** sampled inputs and their row accesses */
  inputs: number;
  accesses: number;
  /** distinct rows seen, and rows given an owner */
  rows: number;
  /** cut of the LDG assignment and of a seeded random one (fraction of accesses to rows shared by ≥ 2 workers) */
  cut: { graph: number; random: number };
  /** inputs per worker (LDG) */
  sizes: number[];
  seconds: number;
}

export interface PartitionResult {
  /** per table 0..25, then the hot table (index 26): owner worker per row, 255 = none */
  owners: Uint8Array[];
  report: PartitionReport;
  reused: boolean;
}

const MAGIC = 'hotcold.partition';

/**
 * The core: LDG over inputs given as rows (global row ids, `rowsPer` per input).
 * @param rows N × rowsPer global row ids
 * @param R number of global rows
 * @returns labels per input, owners per global row (255 = unseen), and the cuts
 */
export function ldgPartition(rows: Int32Array, rowsPer: number, R: number, K: number, seed: number): {
  labels: Uint8Array; owners: Uint8Array; cut: { graph: number; random: number }; sizes: number[];
} {
  if (K < 2 || K > 16) throw new PipelineError('bad_config', `partition: ${K} workers; the graph partitioner takes 2..16`, { field: 'parallel.workers' });
  const N = Math.floor(rows.length / rowsPer);
  const cap = Math.ceil(N / K);
  const mask = new Uint16Array(R);
  const n = new Int32Array(K);
  const overlap = new Int32Array(K);
  const labels = new Uint8Array(N);
  for (let i = 0; i < N; i++) {
    overlap.fill(0);
    for (let j = 0; j < rowsPer; j++) {
      const m = mask[rows[i * rowsPer + j]!]!;
      if (m === 0) continue;
      for (let k = 0; k < K; k++) if (m & (1 << k)) overlap[k]!++;
    }
    let best = -1;
    let bestScore = -Infinity;
    for (let k = 0; k < K; k++) {
      if (n[k]! >= cap) continue;
      const score = overlap[k]! * (1 - n[k]! / cap);
      if (score > bestScore || (score === bestScore && n[k]! < n[best]!)) { best = k; bestScore = score; }
    }
    labels[i] = best;
    n[best]!++;
    const bit = 1 << best;
    for (let j = 0; j < rowsPer; j++) { const r = rows[i * rowsPer + j]!; mask[r] = mask[r]! | bit; }
  }
  // owners: most accesses per row (counts saturate at 65535)
  const counts = new Uint16Array(R * K);
  for (let i = 0; i < N; i++) {
    const k = labels[i]!;
    for (let j = 0; j < rowsPer; j++) {
      const c = rows[i * rowsPer + j]! * K + k;
      if (counts[c]! < 65535) counts[c]!++;
    }
  }
  const owners = new Uint8Array(R).fill(255);
  for (let r = 0; r < R; r++) {
    let best = -1;
    let bc = 0;
    for (let k = 0; k < K; k++) { const c = counts[r * K + k]!; if (c > bc) { bc = c; best = k; } }
    if (best >= 0) owners[r] = best;
  }
  const rng = Rng.derive(seed, 41);
  const random = Uint8Array.from({ length: N }, () => rng.int(K));
  return { labels, owners, cut: { graph: cutOf(rows, rowsPer, R, labels), random: cutOf(rows, rowsPer, R, random) }, sizes: Array.from(n) };
}

/** Fraction of accesses to rows accessed by inputs of ≥ 2 workers under `labels`. */
export function cutOf(rows: Int32Array, rowsPer: number, R: number, labels: Uint8Array): number {
  const N = labels.length;
  const mask = new Uint16Array(R);
  for (let i = 0; i < N; i++) {
    const bit = 1 << labels[i]!;
    for (let j = 0; j < rowsPer; j++) { const r = rows[i * rowsPer + j]!; mask[r] = mask[r]! | bit; }
  }
  let shared = 0;
  for (let i = 0; i < N * rowsPer; i++) {
    const m = mask[rows[i]!]!;
    if ((m & (m - 1)) !== 0) shared++;
  }
  return N * rowsPer > 0 ? shared / (N * rowsPer) : 0;
}

/** Run (or reuse) the partition step of a run: reads a sample of its training streams. */
export async function runPartition(o: { cfg: TrainConfig; inputs: TrainInputs; out: string; dataHash: string }): Promise<PartitionResult> {
  const { cfg, inputs } = o;
  const K = cfg.parallel.workers;
  const sizes = inputs.tableSizes;
  const H = inputs.hotMap ? inputs.hotMap.table.length : 0;
  const fingerprint = configHash({ data: o.dataHash, workers: K, sample: cfg.parallel.partitionSample, seed: cfg.seed, mode: cfg.mode, batch: cfg.train.batchSize });
  const dir = join(o.out, 'partition');
  const reused = readPartition(dir, fingerprint, sizes, H);
  if (reused) return reused;
  const t0 = performance.now();
  const offsets = new Int32Array(NUM_TABLES + 1);
  for (let t = 0; t < NUM_TABLES; t++) offsets[t + 1] = offsets[t]! + sizes[t]!;
  const R = offsets[NUM_TABLES]!;
  // the sample: the first inputs of epoch 0's seeded order, from each training stream in proportion
  const streams = [{ s: inputs.main, hot: false }, ...(inputs.hot ? [{ s: inputs.hot, hot: true }] : [])];
  const total = streams.reduce((a, x) => a + x.s.totalRows, 0);
  const want = Math.min(total, cfg.parallel.partitionSample);
  const rows = new Int32Array(want * NUM_TABLES);
  let N = 0;
  const batch = allocBatch(cfg.train.batchSize);
  const map = inputs.hotMap;
  for (const { s, hot } of streams) {
    const take = Math.min(s.totalRows, Math.round((want * s.totalRows) / Math.max(1, total)), want - N);
    s.start(0, 0);
    let got = 0;
    while (got < take && (await s.next(batch))) {
      const m = Math.min(batch.size, take - got);
      for (let b = 0; b < m; b++) {
        for (let f = 0; f < NUM_TABLES; f++) {
          const id = batch.cats[b * NUM_TABLES + f]!;
          rows[(N + b) * NUM_TABLES + f] = hot && map ? offsets[map.table[id]!]! + map.row[id]! : offsets[f]! + id;
        }
      }
      N += m;
      got += m;
    }
  }
  const p = ldgPartition(rows.subarray(0, N * NUM_TABLES), NUM_TABLES, R, K, cfg.seed);
  const owners: Uint8Array[] = [];
  for (let t = 0; t < NUM_TABLES; t++) owners.push(p.owners.slice(offsets[t]!, offsets[t + 1]!));
  const hotOwners = new Uint8Array(Math.max(1, H)).fill(255);
  if (map) for (let h = 0; h < H; h++) hotOwners[h] = p.owners[offsets[map.table[h]!]! + map.row[h]!]!;
  owners.push(hotOwners);
  let seen = 0;
  for (let r = 0; r < R; r++) if (p.owners[r] !== 255) seen++;
  const report: PartitionReport = {
    workers: K, inputs: N, accesses: N * NUM_TABLES, rows: seen, cut: p.cut, sizes: p.sizes, seconds: (performance.now() - t0) / 1000,
  };
  writePartition(dir, fingerprint, owners, report);
  return { owners, report, reused: false };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function writePartition(dir: string, fingerprint: string, owners: Uint8Array[], report: PartitionReport): void {
  mkdirSync(dir, { recursive: true });
  const bin = concat(owners);
  const rep = `${JSON.stringify(report, null, 2)}\n`;
  writeFileAtomicSync(join(dir, 'owners.bin'), bin);
  writeFileAtomicSync(join(dir, 'report.json'), rep);
  const manifest = {
    magic: MAGIC, formatVersion: 1, fingerprint, committedAt: new Date().toISOString(), elapsedSec: report.seconds,
    tables: owners.map((t) => t.length),
    files: [{ name: 'owners.bin', bytes: bin.length, sha256: sha256(bin) }, { name: 'report.json', bytes: Buffer.byteLength(rep), sha256: sha256(rep) }],
  };
  writeFileAtomicSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`); // committed last
}

function readPartition(dir: string, fingerprint: string, sizes: number[], H: number): PartitionResult | null {
  const mp = join(dir, 'manifest.json');
  if (!existsSync(mp)) return null;
  try {
    const m = JSON.parse(readFileSync(mp, 'utf8')) as { magic?: string; fingerprint?: string; tables?: number[]; files?: { name: string; sha256: string }[] };
    if (m.magic !== MAGIC || m.fingerprint !== fingerprint || !m.tables) return null;
    const bin = new Uint8Array(readFileSync(join(dir, 'owners.bin')));
    if (sha256(bin) !== m.files?.find((f) => f.name === 'owners.bin')?.sha256) return null;
    const want = [...sizes, Math.max(1, H)];
    if (m.tables.length !== want.length || m.tables.some((n, i) => n !== want[i])) return null;
    const owners: Uint8Array[] = [];
    let o = 0;
    for (const n of m.tables) { owners.push(bin.slice(o, o + n)); o += n; }
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as PartitionReport;
    return { owners, report, reused: true };
  } catch {
    return null; // unreadable: partition again
  }
}

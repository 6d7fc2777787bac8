/**
 * A batch's parity update as whole-block deltas: per parity node j and parity block, the XOR of
 * c[j][i] · (old ⊕ new) of every row of the batch in that stripe, at its row offset (rows no
 * update touched are zeros; the block is cut after the last touched row). The parity node XORs
 * each onto its block natively (hp_bxor: BITOP), instead of row by row in Lua — the same bytes
 * sent, a fraction of the parity node's CPU (it takes every update's delta). Exact: XOR is
 * associative, so summing a stripe's deltas in the trainer first changes nothing.
 */
import type { BatchRows } from '../batch-rows.js';
import { MAX_KEYS } from '../functions.js';
import { ROWS_PER_BLOCK } from '../layout.js';
import { mulAdd } from './gf.js';
import { scratchKey } from './layout.js';
import type { ParityTables } from './tables.js';

/** One hp_bxor call: its keys (sentinel, scratch, blocks…), the blocks' lengths (int32 LE) and bytes. */
export interface BlockDeltaCall {
  node: number;
  keys: string[];
  lens: Buffer;
  bytes: Buffer;
  /** row deltas summed into it */
  rows: number;
}

/**
 * The hp_bxor calls of a batch per parity node (index j; split at MAX_KEYS keys; empty for a
 * lost node and for blocks its rebuild has not marked yet).
 * @param delta old ⊕ new bytes of unique row u at u · rowBytes
 */
export function parityDeltaCalls(T: ParityTables, rows: BatchRows, delta: Uint8Array): BlockDeltaCall[][] {
  const { k, r, rb } = T;
  const slotOf = new Map<string, number>();
  const keys: string[] = [];
  const pos: number[] = [];
  const len: number[] = [];
  const rowSlot = new Int32Array(rows.U).fill(-1);
  for (let u = 0; u < rows.U; u++) {
    if (rows.uHot[u]! >= 0) continue;
    const t = rows.uT[u]!;
    const row = rows.uR[u]!;
    const blk = (row / ROWS_PER_BLOCK) | 0;
    const s = (blk / k) | 0;
    const key = T.pkey(t, s);
    let sl = slotOf.get(key);
    if (sl === undefined) {
      sl = keys.length;
      slotOf.set(key, sl);
      keys.push(key);
      pos.push(T.map.parityPos(t, s));
      len.push(0);
    }
    rowSlot[u] = sl;
    len[sl] = Math.max(len[sl]!, (row - blk * ROWS_PER_BLOCK + 1) * rb);
  }
  const at = new Int32Array(keys.length);
  const scratch = scratchKey(T.prefix);
  const out: BlockDeltaCall[][] = [];
  for (let j = 0; j < r; j++) {
    const n = k + j;
    const calls: BlockDeltaCall[] = [];
    out.push(calls);
    if (T.nodes[n]!.state === 'lost') continue;
    const sel: number[] = [];
    for (let sl = 0; sl < keys.length; sl++) if (T.writeKind(n, pos[sl]!) !== 'none') sel.push(sl);
    const coef = T.code.c[j]!;
    for (let g0 = 0; g0 < sel.length; g0 += MAX_KEYS - 2) {
      const group = sel.slice(g0, g0 + MAX_KEYS - 2);
      at.fill(-1);
      const lens = new Int32Array(group.length);
      let total = 0;
      for (let x = 0; x < group.length; x++) {
        at[group[x]!] = total;
        lens[x] = len[group[x]!]!;
        total += lens[x]!;
      }
      const bytes = Buffer.alloc(total);
      let nrows = 0;
      for (let u = 0; u < rows.U; u++) {
        const sl = rowSlot[u]!;
        if (sl < 0 || at[sl]! < 0) continue;
        const row = rows.uR[u]!;
        const blk = (row / ROWS_PER_BLOCK) | 0;
        mulAdd(bytes, at[sl]! + (row - blk * ROWS_PER_BLOCK) * rb, delta, u * rb, rb, coef[blk % k]!);
        nrows++;
      }
      calls.push({ node: n, keys: [T.sentinel, scratch, ...group.map((sl) => keys[sl]!)], lens: Buffer.from(lens.buffer), bytes, rows: nrows });
    }
  }
  return out;
}

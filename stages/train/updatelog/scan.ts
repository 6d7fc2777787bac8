/**
 * Reading the update log back: walk every table's stream in lockstep, version by version,
 * and stop at the first version that is not complete and intact in every stream (a torn
 * append — the process died between the XADDs of one version —, a gap, a damaged entry).
 * Replay then uses only markers before that point, so it stops at the last complete marker.
 */
import type { TableState } from '../checkpoint/types.js';
import { type Entry, decodeEntry } from './codec.js';

/** One stream as read with XRANGE: entry id, header and payload. */
export interface RawEntry {
  id: string;
  h?: Buffer;
  d?: Buffer;
}

/** A marker every stream holds: the log version and the checkpoint it goes with. */
export interface Marker {
  v: number;
  ckpt: number;
  step: number;
}

/** What {@link scanLog} found. */
export interface LogScan {
  /** complete versions in order, each with its entry per table */
  versions: { v: number; entries: Entry[] }[];
  /** complete markers, in log order */
  markers: Marker[];
  /** why the walk stopped before the end of the streams (null: every entry was complete) */
  stop: string | null;
  /** per table: ids of the entries from the stopping point on (torn, damaged, or after it) */
  rest: string[][];
  /** highest version of any entry read (complete or not) */
  maxSeen: number;
}

const versionOf = (id: string): number => Number(id.split('-')[0]);

/**
 * Walk the streams (index t = table t) in lockstep.
 * @param shapes per table: dim and rows, to check entries against
 */
export function scanLog(streams: RawEntry[][], shapes: { dim: number; rows: number }[], names: string[]): LogScan {
  const T = streams.length;
  const versions: LogScan['versions'] = [];
  const markers: Marker[] = [];
  let stop: string | null = null;
  let prev = -1;
  let k = 0;
  let maxSeen = 0;
  for (const s of streams) for (const e of s) maxSeen = Math.max(maxSeen, versionOf(e.id));
  const longest = Math.max(0, ...streams.map((s) => s.length));
  for (; k < longest; k++) {
    // the lowest version at this position: a stream holding a higher one skipped it (a gap)
    let v = Infinity;
    for (const s of streams) if (s[k] !== undefined) v = Math.min(v, versionOf(s[k]!.id));
    const entries: Entry[] = [];
    for (let t = 0; t < T && stop === null; t++) {
      const raw = streams[t]![k];
      if (!raw) {
        const have = streams.filter((s) => s[k] !== undefined && versionOf(s[k]!.id) === v).length;
        stop = `version ${v} is torn: ${have} of ${T} table streams hold it (${names[t]} does not)`;
        break;
      }
      const w = versionOf(raw.id);
      if (w !== v) {
        stop = `gap at version ${Math.min(v, w)}: the stream of ${names[t]} holds version ${w} where the others hold ${v}`;
        break;
      }
      const e = decodeEntry(raw.id, raw.h, raw.d, t, shapes[t]!.dim, shapes[t]!.rows);
      if (typeof e === 'string') {
        stop = `${names[t]}: ${e}`;
        break;
      }
      if (prev >= 0 && e.head.prev !== prev) {
        stop = `gap before version ${v}: it follows version ${e.head.prev}, but the last complete version is ${prev}`;
        break;
      }
      if (entries.length > 0 && (e.head.k !== entries[0]!.head.k || e.head.ckpt !== entries[0]!.head.ckpt)) {
        stop = `version ${v} is not the same kind of entry in every stream`;
        break;
      }
      entries.push(e);
    }
    if (stop !== null) break;
    versions.push({ v, entries });
    const h = entries[0]!.head;
    if (h.k === 'marker') markers.push({ v, ckpt: h.ckpt!, step: h.step });
    prev = v;
  }
  const rest = streams.map((s) => s.slice(k).map((e) => e.id));
  return { versions, markers, stop, rest, maxSeen };
}

/** The newest marker of checkpoint `ckpt` in the scan, or null. */
export function markerOf(scan: LogScan, ckpt: number): Marker | null {
  for (let i = scan.markers.length - 1; i >= 0; i--) if (scan.markers[i]!.ckpt === ckpt) return scan.markers[i]!;
  return null;
}

/** What {@link replayLog} applied. */
export interface ReplayStats {
  /** versions replayed (rows entries) */
  entries: number;
  /** rows overwritten, all tables, with repeats */
  rows: number;
  from: number;
  to: number;
}

/**
 * Overwrite the tables with every rows entry after version `from` up to `to` (inclusive), in
 * version order (the newest value of a row wins, as in training). The tables must hold the
 * state at the marker `from` (the checkpoint base's).
 */
export function replayLog(scan: LogScan, from: number, to: number, tables: TableState[]): ReplayStats {
  let entries = 0;
  let rows = 0;
  for (const { v, entries: es } of scan.versions) {
    if (v <= from || v > to || es[0]!.head.k !== 'rows') continue;
    entries++;
    for (let t = 0; t < tables.length; t++) {
      const e = es[t]!;
      const tab = tables[t]!;
      const dim = tab.dim;
      const n = e.ids.length;
      for (let i = 0; i < n; i++) {
        const r = e.ids[i]!;
        const o = r * dim;
        const s = i * dim;
        for (let j = 0; j < dim; j++) tab.weights[o + j] = e.weights[s + j]!;
        if (tab.accum && e.accum) tab.accum[r] = e.accum[i]!;
      }
      rows += n;
    }
  }
  return { entries, rows, from, to };
}

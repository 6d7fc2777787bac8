/**
 * The segregation report: numbers a person reads (report.json), the skew curve
 * as data (skew.csv) and as a chart (skew.svg, skew.png).
 */
import { join } from 'node:path';
import { CAT_COLUMNS } from '../../datasets/criteo/constants.js';
import type { SegregateReport } from '../../datasets/segregated.js';
import { writeFileSynced } from '../../pipeline/atomic.js';
import { lineChart, toCsv, writePlot, type Datum } from '../../pipeline/plots.js';
import type { Selection } from './config.js';
import type { CountLevels, HotSet } from './hot-set.js';
import { rowsToCover, skewCurve, type SkewPoint } from './skew.js';
import type { SplitTotals } from './split.js';

export const REPORT_FILES = { json: 'report.json', csv: 'skew.csv', svg: 'skew.svg', png: 'skew.png' } as const;

/** report.json: the manifest's {@link SegregateReport} plus detail. */
export interface SegregateReportFull extends SegregateReport {
  dim: number;
  selection: Selection;
  /** all rows of all tables */
  totalRows: number;
  /** hotRows / totalRows */
  hotRowShare: number;
  /** share of the *sampled* lookups the hot rows account for (the profile's estimate of hotLookupShare) */
  sampledHotLookupShare: number;
  /** fewest rows covering 50 / 90 / 99 % of the sampled lookups */
  rowsToCover: { p50: number; p90: number; p99: number };
  tables: { name: string; rows: number; accessedRows: number; hotRows: number }[];
  skew: SkewPoint[];
}

/** Assemble the report from the hot set, the profile levels and the pass totals. */
export function buildReport(
  hot: HotSet,
  levels: CountLevels,
  totals: SplitTotals,
  tableSizes: number[],
  nonzeroRows: number[],
  dim: number,
  selection: Selection,
): SegregateReportFull {
  const lookups = totals.inputs * tableSizes.length;
  return {
    hotRows: hot.hotRows,
    hotRowsPerTable: [...hot.perTable],
    hotInputs: totals.hotInputs,
    coldInputs: totals.inputs - totals.hotInputs,
    hotInputShare: totals.inputs > 0 ? totals.hotInputs / totals.inputs : 0,
    hotLookupShare: lookups > 0 ? totals.hotLookups / lookups : 0,
    hotTableBytes: hot.hotRows * dim * 4,
    dim,
    selection,
    totalRows: levels.totalRows,
    hotRowShare: levels.totalRows > 0 ? hot.hotRows / levels.totalRows : 0,
    sampledHotLookupShare: levels.totalCount > 0 ? hot.hotCount / levels.totalCount : 0,
    rowsToCover: { p50: rowsToCover(levels, 0.5), p90: rowsToCover(levels, 0.9), p99: rowsToCover(levels, 0.99) },
    tables: tableSizes.map((rows, t) => ({ name: CAT_COLUMNS[t]!, rows, accessedRows: nonzeroRows[t]!, hotRows: hot.perTable[t]! })),
    skew: skewCurve(levels, hot.hotRows > 0 ? [hot.hotRows] : []),
  };
}

/**
 * Write report.json, skew.csv, skew.svg and skew.png into `dir` (data files,
 * committed later by the manifest).
 * @returns the relative paths written
 */
export async function writeReport(dir: string, r: SegregateReportFull): Promise<string[]> {
  writeFileSynced(join(dir, REPORT_FILES.json), JSON.stringify(r, null, 2) + '\n');
  const rows: Datum[] = r.skew.map((p) => ({ ...p, curve: 'all 26 tables (sampled counts)' }));
  writeFileSynced(join(dir, REPORT_FILES.csv), toCsv(rows, ['rows', 'rowShare', 'lookups', 'lookupShare']));
  const files: string[] = [REPORT_FILES.json, REPORT_FILES.csv];
  if (rows.length > 0) {
    const pct = (x: number): string => `${(100 * x).toFixed(x < 0.01 ? 3 : 1)} %`;
    const chart = await lineChart({
      title: `Access skew: hot set ${r.hotRows} rows (${pct(r.hotRowShare)}) covers ${pct(r.sampledHotLookupShare)} of sampled lookups`,
      x: { field: 'rowShare', title: 'share of embedding rows (most accessed first)', scale: 'log' },
      y: { field: 'lookupShare', title: 'share of lookups covered', format: '.0%', domain: [0, 1] },
      series: 'curve',
      seriesTitle: 'curve',
      data: rows,
      refLines: r.hotRows > 0 ? [{ x: r.hotRowShare, label: `hot set (${r.hotRows} rows)` }] : [],
    });
    await writePlot(join(dir, 'skew'), chart);
    files.push(REPORT_FILES.svg, REPORT_FILES.png);
  }
  return files;
}

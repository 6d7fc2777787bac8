/**
 * Plots for reports: a Vega-Lite spec is compiled to Vega, rendered headless to
 * SVG (renderer `none`, no canvas, no network), and rasterised to PNG with
 * resvg. Every stage that draws a chart goes through here, so all charts share
 * one look and one offline path.
 *
 * Example::
 *
 *     const chart = await lineChart({
 *       title: 'Access skew',
 *       x: { field: 'rowShare', title: 'share of rows', scale: 'log' },
 *       y: { field: 'lookupShare', title: 'share of lookups' },
 *       series: 'set',
 *       data: rows,
 *       refLines: [{ y: 0.9, label: '90 %' }],
 *     });
 *     await writePlot('out/skew', chart); // out/skew.svg, out/skew.png
 */
import type { TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from './atomic.js';
import { PipelineError } from './errors.js';

/** A rendered chart: SVG text and PNG bytes of the same picture. */
export interface Chart {
  svg: string;
  png: Uint8Array;
}

/** One axis of a chart. */
export interface AxisSpec {
  /** data field plotted on this axis */
  field: string;
  /** axis title; @default the field name */
  title?: string;
  /** @default 'linear' */
  scale?: 'linear' | 'log';
  /** d3-format string for tick labels, e.g. `.0%` or `~s` */
  format?: string;
  /** fixed [min, max]; @default fitted to the data */
  domain?: [number, number];
}

/** A horizontal (`y`) or vertical (`x`) reference line with a label. */
export interface RefLine {
  x?: number;
  y?: number;
  label: string;
}

export type Datum = Record<string, number | string | null>;

/** Options of {@link lineChart}. */
export interface LineChartSpec {
  title: string;
  x: AxisSpec;
  y: AxisSpec;
  /** field that names the series (one line and one legend entry per value) */
  series?: string;
  /** series title in the legend; @default the field name */
  seriesTitle?: string;
  data: Datum[];
  refLines?: RefLine[];
  /** @default 'line' */
  mark?: 'line' | 'point' | 'line+point';
  /**
   * vertical error bars from field `lo` to field `hi` at each point (rows where either is
   * null get none), coloured like their series (one legend entry per series still)
   */
  errorBars?: { lo: string; hi: string };
  /** horizontal error bars from field `lo` to field `hi` (on the x axis) at each point, as {@link errorBars} */
  xErrorBars?: { lo: string; hi: string };
  /** plot area in px; @default 480 × 300 */
  width?: number;
  height?: number;
}

/** Options of {@link renderVegaLite}. */
export interface RenderOptions {
  /** PNG scale factor relative to the SVG size; @default 2 */
  pngScale?: number;
  /** @default 'white' */
  background?: string;
}

/** Font settings shared by SVG text and the rasteriser, so text measures and renders alike. */
const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

/**
 * Render any Vega-Lite spec to SVG and PNG, offline (data must be inline).
 * @throws PipelineError `internal` when Vega cannot compile or render the spec.
 */
export async function renderVegaLite(spec: TopLevelSpec, opts: RenderOptions = {}): Promise<Chart> {
  // vega, vega-lite and resvg take ~1 s to load: only commands that draw pay it
  const [vega, { compile }, { Resvg }] = await Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')]);
  let svg: string;
  try {
    const vg = compile(spec).spec;
    const view = new vega.View(vega.parse(vg), {
      renderer: 'none',
      // data is inline; refuse any URL so a spec can never reach the network
      loader: vega.loader({ mode: 'file', baseURL: '/nonexistent-hotcold-offline/' }),
      logLevel: vega.Error,
    });
    svg = await view.toSVG();
    view.finalize();
  } catch (e) {
    throw new PipelineError('internal', `cannot render chart: ${(e as Error).message}`, { cause: e });
  }
  const resvg = new Resvg(svg, {
    background: opts.background ?? 'white',
    fitTo: { mode: 'zoom', value: opts.pngScale ?? 2 },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    logLevel: 'off',
  });
  const png = new Uint8Array(resvg.render().asPng());
  return { svg, png };
}

/** Data fit for a log axis: rows whose value there is not > 0 cannot be drawn and are dropped. */
function logSafe(data: Datum[], axes: AxisSpec[]): Datum[] {
  const logFields = axes.filter((a) => a.scale === 'log').map((a) => a.field);
  if (logFields.length === 0) return data;
  return data.filter((d) => logFields.every((f) => typeof d[f] === 'number' && (d[f] as number) > 0));
}

function encodeAxis(a: AxisSpec): Record<string, unknown> {
  const scale: Record<string, unknown> = { type: a.scale ?? 'linear' };
  if (a.domain) scale['domain'] = a.domain;
  if (a.scale !== 'log' && !a.domain) scale['zero'] = false;
  const axis: Record<string, unknown> = { title: a.title ?? a.field, grid: true };
  if (a.format) axis['format'] = a.format;
  return { field: a.field, type: 'quantitative', scale, axis };
}

/**
 * Build the Vega-Lite spec of a line chart (exposed for callers that tweak it).
 * Rows with a non-positive value on a log axis are dropped.
 */
export function lineChartSpec(c: LineChartSpec): TopLevelSpec {
  const data = logSafe(c.data, [c.x, c.y]);
  if (data.length === 0) throw new PipelineError('internal', `chart '${c.title}' has no drawable data`);
  const mark = c.mark ?? 'line';
  const encoding: Record<string, unknown> = { x: encodeAxis(c.x), y: encodeAxis(c.y) };
  if (c.series) encoding['color'] = { field: c.series, type: 'nominal', title: c.seriesTitle ?? c.series };
  // error bars wider than a fixed axis domain are clipped to the plot area (only then: a clip
  // path's id comes from a per-process counter, so clipping every chart would make the SVG
  // bytes depend on how many charts the process drew before)
  const clip = (c.errorBars !== undefined || c.xErrorBars !== undefined) && (c.x.domain !== undefined || c.y.domain !== undefined);
  const layers: Record<string, unknown>[] = [
    {
      mark: mark === 'point' ? { type: 'point', filled: true, clip } : { type: 'line', point: mark === 'line+point', strokeWidth: 2, clip },
      encoding,
    },
  ];
  if (c.errorBars) {
    const { lo, hi } = c.errorBars;
    const bars: Record<string, unknown> = {
      x: encodeAxis(c.x),
      y: encodeAxis({ ...c.y, field: lo }),
      y2: { field: hi },
    };
    if (c.series) bars['color'] = { field: c.series, type: 'nominal', title: c.seriesTitle ?? c.series }; // the same scale: merged into the one legend
    layers.push({
      transform: [{ filter: `isValid(datum['${lo}']) && isValid(datum['${hi}'])` }],
      mark: { type: 'rule', strokeWidth: 1.5, clip },
      encoding: bars,
    });
  }
  if (c.xErrorBars) {
    const { lo, hi } = c.xErrorBars;
    const bars: Record<string, unknown> = { y: encodeAxis(c.y), x: encodeAxis({ ...c.x, field: lo }), x2: { field: hi } };
    if (c.series) bars['color'] = { field: c.series, type: 'nominal', title: c.seriesTitle ?? c.series };
    layers.push({
      transform: [{ filter: `isValid(datum['${lo}']) && isValid(datum['${hi}'])` }],
      mark: { type: 'rule', strokeWidth: 1.5, clip },
      encoding: bars,
    });
  }
  for (const r of c.refLines ?? []) {
    const onY = r.y !== undefined;
    const v = onY ? r.y : r.x;
    if (v === undefined || !Number.isFinite(v)) continue;
    const axis = onY ? c.y : c.x;
    const enc = { field: 'v', type: 'quantitative', scale: encodeAxis(axis)['scale'] };
    layers.push({
      data: { values: [{ v, label: r.label }] },
      layer: [
        { mark: { type: 'rule', strokeDash: [5, 4], color: '#666' }, encoding: { [onY ? 'y' : 'x']: enc } },
        {
          mark: onY
            ? { type: 'text', align: 'left', baseline: 'bottom', dx: 3, dy: -2, color: '#444', x: 0 }
            : { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 3, color: '#444', y: 0 },
          encoding: { [onY ? 'y' : 'x']: enc, text: { field: 'label', type: 'nominal' } },
        },
      ],
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: c.title,
    width: c.width ?? 480,
    height: c.height ?? 300,
    data: { values: data },
    config: { font: FONT, background: 'white', legend: { labelLimit: 360 } },
    layer: layers,
  } as unknown as TopLevelSpec;
}

/** Render a line chart (one line per series) with optional labelled reference lines. */
export async function lineChart(c: LineChartSpec, opts: RenderOptions = {}): Promise<Chart> {
  return renderVegaLite(lineChartSpec(c), opts);
}

/**
 * Write `<base>.svg` and `<base>.png`, each atomically.
 * @returns the two paths written
 */
export async function writePlot(base: string, chart: Chart): Promise<{ svg: string; png: string }> {
  const svg = `${base}.svg`;
  const png = `${base}.png`;
  await writeFileAtomic(svg, chart.svg);
  await writeFileAtomic(png, chart.png);
  return { svg, png };
}

/** Rows → CSV text (header from the given columns; numbers as is, strings quoted when needed). */
export function toCsv(rows: Datum[], columns: string[]): string {
  const cell = (v: number | string | null | undefined): string => {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
    return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
  };
  const lines = [columns.join(',')];
  for (const r of rows) lines.push(columns.map((c) => cell(r[c])).join(','));
  return lines.join('\n') + '\n';
}

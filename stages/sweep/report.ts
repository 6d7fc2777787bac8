/**
 * The report a person reads: the headline (Slipstream speedup and ΔAUC at each
 * D against the goal), the results table, and the charts. Written twice:
 *
 *     <dir>/report.md     Markdown, charts linked as plots/*.svg
 *     <dir>/report.html   one self-contained file: inline CSS and inline SVG, no
 *                         scripts, no external assets (readable offline)
 */
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../pipeline/atomic.js';
import { budgetTables } from './budget-report.js';
import { buildCharts, writeCharts, type NamedChart } from './charts.js';
import { BASIS_TEXT, summarize, type HeadlineRow } from './headline.js';
import type { ResultRow, SweepResults } from './results.js';
import { fmtEstimate, type Estimate } from './stats.js';

export { summarize, type Headline, type HeadlineRow } from './headline.js';

/** `0.12345` → `0.1235` (digits), null → `–`. */
export function fmt(v: number | null, digits: number): string {
  return v === null ? '–' : v.toFixed(digits);
}
function signed(v: number | null, digits = 4): string {
  return v === null ? '–' : `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}`;
}
function pct(v: number | null): string {
  return v === null ? '–' : `${(100 * v).toFixed(1)} %`;
}
function mb(v: number | null): string {
  return v === null ? '–' : (v / 1e6).toFixed(1);
}
function times(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : `${v.toFixed(2)}×`;
}
function nz(v: number | null | undefined): number | null {
  return v === undefined ? null : v;
}

const TABLE_HEAD = ['run', 'mode', 'D', 'α', 'seed', 'drop', 'T', 'test AUC', 'ΔAUC', 'logloss', 'train wall s', 'train CPU s', 'modelled s',
  'steps', 'GFLOP', 'samples/s', 'host↔dev MB', 'speedup wall', 'CPU', 'work', 'modelled', 'status'];

function tableCells(x: ResultRow): string[] {
  return [
    x.runId, x.mode, fmt(x.targetDrop, 2), fmt(x.alpha, 2), x.seed === null ? '–' : String(x.seed), pct(x.achievedDrop),
    x.threshold === null ? '–' : x.threshold.toExponential(2), fmt(x.testAuc, 4), signed(x.deltaAuc), fmt(x.testLogloss, 4),
    fmt(x.trainSec, 1), fmt(nz(x.trainCpuSec), 1), fmt(nz(x.modelledSec), 1), nz(x.optimizerSteps) === null ? '–' : String(x.optimizerSteps),
    nz(x.denseFlops) === null ? '–' : (x.denseFlops! / 1e9).toFixed(1), x.samplesPerSec === null ? '–' : Math.round(x.samplesPerSec).toString(),
    mb(x.hostDeviceBytes), times(x.speedup), times(x.speedupCpu), times(x.speedupWork), times(x.speedupModelled), x.status,
  ];
}

const HEAD_HEAD = ['', 'runs', 'achieved drop', 'speedup: modelled', 'work', 'train CPU', 'train wall', 'end to end (wall)', 'ΔAUC', 'verdict'];

function est(e: Estimate, d = 2, unit = '×'): string {
  return fmtEstimate(e, d, unit);
}

function headCells(h: HeadlineRow): string[] {
  const drop = h.achievedDrop.mean === null ? '–' : `${(100 * h.achievedDrop.mean).toFixed(1)} %`;
  const dAuc = h.deltaAuc.mean === null ? '–' : fmtEstimate(h.deltaAuc, 4).replace(/-/g, '−');
  return [h.label, String(h.runs), drop, est(h.speedupModelled), est(h.speedupWork), est(h.speedupCpu), est(h.speedup), est(h.speedupTotal), dAuc,
    h.mode === 'slipstream' ? h.verdict : '–'];
}

function mdTable(head: string[], rows: string[][]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

function counts(r: SweepResults): string {
  const n = (s: string): number => r.rows.filter((x) => x.status === s).length;
  return `${r.rows.length} runs: ${n('ok')} finished, ${n('failed')} failed, ${n('pending')} pending`;
}

/** Where the timings come from; a loaded machine or concurrent jobs make speedups noisy. */
function machineNote(r: SweepResults): string | null {
  const m = r.machine;
  if (!m) return null;
  const engines = r.engines && r.engines.length > 0 ? r.engines.join(', ') : 'not recorded';
  const load = r.load
    ? ` Load average over the sweep: mean ${r.load.mean.toFixed(1)}, max ${r.load.max.toFixed(1)} (${r.load.samples} samples) on ${m.cpus} cores` +
      (r.load.mean > m.cpus ? ': the machine was busy, so wall and CPU times are noisy; counted work is not.' : '.')
    : m.loadAvgStart > m.cpus ? ` The machine was busy (load ${m.loadAvgStart.toFixed(1)} on ${m.cpus} cores at the start): timings, and so speedups, are noisy.` : '';
  const cal = r.calibration
    ? ` Unit costs: median of ${r.calibration.runs} calibration(s) in this sweep (${r.calibration.engine}, ${r.calibration.threads} thread(s)).`
    : ' No calibration in this sweep: modelled times are absent.';
  return `Engine: ${engines}; ${m.threads ?? 1} BLAS thread(s) per job, ${m.concurrency} job(s) at a time; CPU: ${m.cpuModel ?? 'not recorded'} (${m.cpus} cores); Node ${m.node}.${load}${cal}`;
}

/** What each number means, one line each. */
function legendLines(r: SweepResults, basis: string, basisNote: string): string[] {
  return [
    `Verdict basis: ${BASIS_TEXT[basis as keyof typeof BASIS_TEXT] ?? basis}${basisNote ? ` — ${basisNote}` : ''}. A verdict needs the 95 % interval (Student t over ${r.repeats ?? 1} repeat(s) × seeds) to clear the goal; otherwise "not shown".`,
    'Speedups are baseline / run, paired by seed: modelled = counted work priced at this sweep\'s calibrated unit costs; work = counted work priced at frozen reference costs (the same on every repeat); train CPU = process CPU seconds of the training steps; train wall = wall seconds of the training steps (Slipstream overhead included, evaluation excluded); end to end = whole-run wall time.',
    'T (Slipstream staleness threshold): a hot embedding row is stale when its largest change over the snapshot window, ‖Δ‖∞, is below T; T is searched each epoch so the share of hot inputs dropped matches the target D.',
    'α (stale fraction): an input is dropped when at least α of its 26 lookups are stale (α = 1: all of them). drop = dropped / hot inputs achieved; ΔAUC = run test AUC − baseline test AUC.',
  ];
}

/** The Markdown report. Chart images are linked relative to the report (plots/<name>.svg). */
export function reportMarkdown(r: SweepResults, charts: { name: string; title: string }[]): string {
  const h = summarize(r);
  const parts = [`# hotcold report: ${r.name}`, '', `_${counts(r)}; written ${r.createdAt}_`, '', `**${h.verdict}**`, ''];
  if (h.rows.length > 0) parts.push(mdTable(HEAD_HEAD, h.rows.map(headCells)), '');
  if (r.bayes) parts.push(`Generator's Bayes-optimal test AUC: ${r.bayes.auc.toFixed(4)} (the ceiling any model can reach on this data).`, '');
  const note = machineNote(r);
  if (note) parts.push(note, '');
  parts.push('## Runs', '', mdTable(TABLE_HEAD, r.rows.map(tableCells)), '');
  for (const l of legendLines(r, h.basis, h.basisNote)) parts.push(l, '');
  for (const t of budgetTables(r)) parts.push(`## ${t.title}`, '', mdTable(t.head, t.rows), '', ...(t.note ? [t.note, ''] : []));
  for (const c of charts) parts.push(`## ${c.title}`, '', `![${c.title}](plots/${c.name}.svg)`, '');
  const failed = r.rows.filter((x) => x.status === 'failed');
  if (failed.length > 0) {
    parts.push('## Failed runs', '');
    for (const x of failed) parts.push(`### ${x.runId}`, '', '```', x.error ?? '', '```', '');
  }
  return parts.join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function htmlTable(head: string[], rows: string[][]): string {
  const th = head.map((c) => `<th>${esc(c)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

/** Strip an XML declaration or doctype so the SVG can sit inline in HTML. */
function inlineSvg(svg: string): string {
  return svg.replace(/<\?xml[^>]*\?>\s*/g, '').replace(/<!DOCTYPE[^>]*>\s*/gi, '');
}

const CSS = `body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.verdict{font-size:1.1em;font-weight:600;padding:.6em;background:#f6f8fa;border-left:4px solid #4a7}
figure{margin:1.5em 0}pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:12px}`;

/** The self-contained HTML report (charts as inline SVG). */
export function reportHtml(r: SweepResults, charts: { name: string; title: string; svg: string }[]): string {
  const h = summarize(r);
  const parts = [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>hotcold report: ${esc(r.name)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<h1>hotcold report: ${esc(r.name)}</h1>`,
    `<p><em>${esc(counts(r))}; written ${esc(r.createdAt)}</em></p>`,
    `<p class="verdict">${esc(h.verdict)}</p>`,
  ];
  if (h.rows.length > 0) parts.push(htmlTable(HEAD_HEAD, h.rows.map(headCells)));
  if (r.bayes) parts.push(`<p>Generator's Bayes-optimal test AUC: ${r.bayes.auc.toFixed(4)} (the ceiling any model can reach on this data).</p>`);
  const note = machineNote(r);
  if (note) parts.push(`<p>${esc(note)}</p>`);
  parts.push('<h2>Runs</h2>', htmlTable(TABLE_HEAD, r.rows.map(tableCells)));
  for (const l of legendLines(r, h.basis, h.basisNote)) parts.push(`<p>${esc(l)}</p>`);
  for (const t of budgetTables(r)) parts.push(`<h2>${esc(t.title)}</h2>`, htmlTable(t.head, t.rows), ...(t.note ? [`<p>${esc(t.note)}</p>`] : []));
  for (const c of charts) parts.push(`<figure><h2>${esc(c.title)}</h2>\n${inlineSvg(c.svg)}</figure>`);
  const failed = r.rows.filter((x) => x.status === 'failed');
  if (failed.length > 0) {
    parts.push('<h2>Failed runs</h2>');
    for (const x of failed) parts.push(`<h3>${esc(x.runId)}</h3><pre>${esc(x.error ?? '')}</pre>`);
  }
  parts.push('</body></html>', '');
  return parts.join('\n');
}

/** Paths written by {@link writeReport}. */
export interface ReportFiles {
  markdown: string;
  html: string;
  plots: string[];
}

/** Render the charts and write plots/, report.md and report.html into `dir`. */
export async function writeReport(dir: string, r: SweepResults): Promise<ReportFiles> {
  const charts: NamedChart[] = await buildCharts(r);
  const bases = await writeCharts(dir, charts);
  const markdown = join(dir, 'report.md');
  const html = join(dir, 'report.html');
  writeFileAtomicSync(markdown, reportMarkdown(r, charts));
  writeFileAtomicSync(html, reportHtml(r, charts.map((c) => ({ name: c.name, title: c.title, svg: c.chart.svg }))));
  return { markdown, html, plots: bases.flatMap((b) => [`${b}.svg`, `${b}.png`]) };
}

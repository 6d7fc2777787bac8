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
import { buildCharts, writeCharts, type NamedChart } from './charts.js';
import type { ResultRow, SweepResults } from './results.js';

/** One line of the headline: a mode (and D) averaged over seeds. */
export interface HeadlineRow {
  label: string;
  mode: string;
  targetDrop: number | null;
  alpha: number | null;
  runs: number;
  achievedDrop: number | null;
  speedup: number | null;
  speedupCpu: number | null;
  speedupTotal: number | null;
  deltaAuc: number | null;
  /** speedup ≥ goal and ΔAUC ≥ goal (null when not measurable) */
  meetsGoal: boolean | null;
}

export interface Headline {
  rows: HeadlineRow[];
  /** one sentence on where Slipstream stands against the goal */
  verdict: string;
}

function mean(xs: (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length;
}

/** Average fae and each Slipstream (D, α) over seeds and judge it against the goal. */
export function summarize(r: SweepResults): Headline {
  const groups = new Map<string, ResultRow[]>();
  for (const x of r.rows) {
    if (x.status !== 'ok' || x.mode === 'baseline') continue;
    const key = x.mode === 'slipstream' ? `slipstream|${x.targetDrop}|${x.alpha}` : x.mode;
    groups.set(key, [...(groups.get(key) ?? []), x]);
  }
  const alphas = new Set(r.rows.filter((x) => x.mode === 'slipstream' && x.alpha !== null).map((x) => x.alpha));
  const rows: HeadlineRow[] = [...groups.values()].map((g) => {
    const first = g[0]!;
    const speedup = mean(g.map((x) => x.speedup));
    const deltaAuc = mean(g.map((x) => x.deltaAuc));
    let label: string = first.mode;
    if (first.mode === 'slipstream') label += ` D=${first.targetDrop ?? '?'}${alphas.size > 1 ? ` α=${first.alpha}` : ''}`;
    return {
      label,
      mode: first.mode,
      targetDrop: first.targetDrop,
      alpha: first.alpha,
      runs: g.length,
      achievedDrop: mean(g.map((x) => x.achievedDrop)),
      speedup,
      speedupCpu: mean(g.map((x) => x.speedupCpu)),
      speedupTotal: mean(g.map((x) => x.speedupTotal)),
      deltaAuc,
      meetsGoal: speedup === null || deltaAuc === null ? null : speedup >= r.goal.speedup && deltaAuc >= r.goal.deltaAuc,
    };
  });
  rows.sort((a, b) => (a.mode === b.mode ? (a.targetDrop ?? 0) - (b.targetDrop ?? 0) || (a.alpha ?? 0) - (b.alpha ?? 0) : a.mode < b.mode ? -1 : 1));

  const goal = `≥ ${r.goal.speedup}× at ΔAUC ≥ ${signed(r.goal.deltaAuc, 3).replace('+', '')}`;
  const slip = rows.filter((x) => x.mode === 'slipstream' && x.meetsGoal !== null);
  let verdict: string;
  if (slip.length === 0) verdict = `Slipstream vs goal (${goal}): no Slipstream run with a baseline to compare yet.`;
  else {
    const met = slip.filter((x) => x.meetsGoal);
    if (met.length > 0) {
      const best = met.reduce((a, b) => ((b.speedup ?? 0) > (a.speedup ?? 0) ? b : a));
      verdict = `Slipstream meets the goal (${goal}) at ${met.map((x) => x.label.replace('slipstream ', '')).join(', ')}; best ${fmt(best.speedup, 2)}× at ${best.label.replace('slipstream ', '')} (ΔAUC ${signed(best.deltaAuc)}).`;
    } else {
      const okAuc = slip.filter((x) => (x.deltaAuc ?? -Infinity) >= r.goal.deltaAuc);
      const best = (okAuc.length > 0 ? okAuc : slip).reduce((a, b) => ((b.speedup ?? 0) > (a.speedup ?? 0) ? b : a));
      verdict =
        `Slipstream does not meet the goal (${goal}) at any D; ` +
        (okAuc.length > 0
          ? `best within the AUC budget: ${fmt(best.speedup, 2)}× at ${best.label.replace('slipstream ', '')} (ΔAUC ${signed(best.deltaAuc)}).`
          : `every D loses more AUC than allowed; fastest: ${fmt(best.speedup, 2)}× at ${best.label.replace('slipstream ', '')} (ΔAUC ${signed(best.deltaAuc)}).`);
    }
  }
  return { rows, verdict };
}

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
function goalMark(v: boolean | null): string {
  return v === null ? '–' : v ? 'yes' : 'no';
}

const TABLE_HEAD = ['run', 'mode', 'D', 'α', 'seed', 'drop', 'T', 'test AUC', 'ΔAUC', 'logloss', 'accuracy', 'train s', 'samples/s', 'host↔dev MB', 'speedup', 'status'];

function tableCells(x: ResultRow): string[] {
  return [
    x.runId, x.mode, fmt(x.targetDrop, 2), fmt(x.alpha, 2), x.seed === null ? '–' : String(x.seed), pct(x.achievedDrop),
    x.threshold === null ? '–' : x.threshold.toExponential(2), fmt(x.testAuc, 4), signed(x.deltaAuc), fmt(x.testLogloss, 4),
    pct(x.testAccuracy), fmt(x.trainSec, 1), x.samplesPerSec === null ? '–' : Math.round(x.samplesPerSec).toString(),
    mb(x.hostDeviceBytes), x.speedup === null ? '–' : `${x.speedup.toFixed(2)}×`, x.status,
  ];
}

const HEAD_HEAD = ['', 'runs', 'achieved drop', 'speedup (train)', 'speedup (train CPU)', 'speedup (end to end)', 'ΔAUC', 'meets goal'];

function headCells(h: HeadlineRow): string[] {
  return [h.label, String(h.runs), pct(h.achievedDrop), h.speedup === null ? '–' : `${h.speedup.toFixed(2)}×`, h.speedupCpu === null ? '–' : `${h.speedupCpu.toFixed(2)}×`, h.speedupTotal === null ? '–' : `${h.speedupTotal.toFixed(2)}×`, signed(h.deltaAuc), goalMark(h.meetsGoal)];
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
  const busy = m.loadAvgStart > m.cpus ? ` The machine was busy (load ${m.loadAvgStart.toFixed(1)} on ${m.cpus} cores at the start): timings, and so speedups, are noisy.` : '';
  return `Timed on ${m.cpus} cores with ${m.concurrency} job(s) at a time (Node ${m.node}).${busy}`;
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
  parts.push('Speedup = baseline train time / run train time (same seed and shared settings; train time includes Slipstream overhead, excludes evaluation); train CPU = the same on the process CPU seconds of the training steps, which other load on a shared machine disturbs less than wall time; end to end = the same on whole-run wall time; ΔAUC = run test AUC − baseline test AUC.', '');
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
  parts.push('<p>Speedup = baseline train time / run train time (same seed and shared settings; train time includes Slipstream overhead, excludes evaluation); train CPU = the same on the process CPU seconds of the training steps, which other load on a shared machine disturbs less than wall time; end to end = the same on whole-run wall time; ΔAUC = run test AUC − baseline test AUC.</p>');
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

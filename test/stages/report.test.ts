import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildCharts } from '../../stages/sweep/charts.js';
import { buildReport } from '../../stages/sweep/index.js';
import { reportHtml, reportMarkdown, summarize } from '../../stages/sweep/report.js';
import type { SweepResults } from '../../stages/sweep/results.js';
import { fakeMetrics } from '../fixtures/sweep-results/fake.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'sweep-results', 'results.json');
const fixture = (): SweepResults => JSON.parse(readFileSync(FIXTURE, 'utf8')) as SweepResults;
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hotcold-report-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('summarize (results written before work accounting: one seed, wall time only)', () => {
  it('falls back to the wall speedup and shows no verdict from single runs', () => {
    const h = summarize(fixture());
    const d1 = h.rows.find((x) => x.label === 'slipstream D=0.1')!;
    expect(h.basis).toBe('wall');
    expect(d1.speedup.mean).toBeCloseTo(1.3889, 4);
    expect(d1.verdict).toBe('not shown'); // 1.39× at −0.0004, but one run gives no interval
    expect(h.rows.find((x) => x.mode === 'fae')!.speedup.mean).toBeCloseTo(1.25, 9);
    expect(h.verdict).toMatch(/not shown — one run per configuration gives no interval .*; best mean 1\.79× at D=0\.3/);
  });
});

describe('charts', () => {
  it('renders valid SVG and PNG with the expected series and reference lines', async () => {
    const charts = await buildCharts(fixture());
    expect(charts.map((c) => c.name)).toEqual(['auc-vs-d', 'speedup-vs-drop', 'time-to-accuracy']);
    for (const c of charts) {
      expect(c.chart.svg.trimStart().startsWith('<svg')).toBe(true);
      expect(c.chart.svg.trimEnd().endsWith('</svg>')).toBe(true);
      expect(c.chart.png.length).toBeGreaterThan(1000);
      expect([...c.chart.png.subarray(0, 8)]).toEqual(PNG_MAGIC);
    }
    const [auc, speedup, tta] = charts.map((c) => c.chart.svg);
    expect(auc).toMatch(/slipstream/);
    expect(auc).toMatch(/baseline 0\.7801/);
    expect(auc).toMatch(/fae 0\.7801/);
    expect(auc).toMatch(/Bayes-optimal 0\.7900/);
    expect(speedup).toMatch(/goal 1\.3×/);
    expect(speedup).toMatch(/fae 1\.25× \(wall\)/);
    expect(speedup).toMatch(/achieved drop/);
    // one legend entry per series: the fixture only has wall and CPU speedups
    expect(speedup!.match(/>train wall \(verdict\)<\/text>/g)).toHaveLength(1);
    for (const s of ['baseline', 'fae', 'slipstream D=0.1', 'slipstream D=0.3']) expect(tta).toContain(s);
  });
});

describe('report', () => {
  it('puts the headline, table and plots into markdown and self-contained html', async () => {
    const r = fixture();
    const charts = await buildCharts(r);
    const md = reportMarkdown(r, charts);
    expect(md).toMatch(/^# hotcold report: fixture sweep/);
    expect(md).toMatch(/\| run \| mode \| D \|/);
    expect(md).toMatch(/\| slipstream-D0\.3-s1 \| slipstream \| 0\.30 \|.*\| 1\.79× \|.*\| ok \|/);
    expect(md).toMatch(/^T \(Slipstream staleness threshold\): /m);
    expect(md).toMatch(/^α \(stale fraction\): /m);
    expect(md).toMatch(/^Verdict basis: training wall-time speedup/m);
    expect(md).toContain('![Test AUC vs target drop D](plots/auc-vs-d.svg)');
    expect(md).toMatch(/## Failed runs[\s\S]*NaN in loss/);
    const html = reportHtml(r, charts.map((c) => ({ name: c.name, title: c.title, svg: c.chart.svg })));
    expect(html.match(/<svg/g)).toHaveLength(3);
    expect(html).toContain('<td>slipstream-D0.1-s1</td>');
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
  });

  it('`report` rebuilds from a results.json directory', async () => {
    cpSync(FIXTURE, join(dir, 'results.json'));
    const { report } = await buildReport(dir);
    for (const p of [report.html, report.markdown, ...report.plots]) expect(existsSync(p), p).toBe(true);
    expect(readFileSync(report.html, 'utf8')).toMatch(/fixture sweep/);
  });

  it('`report` on a train run directory writes a one-run report', async () => {
    const run = join(dir, 'my-run');
    mkdirSync(run);
    writeFileSync(join(run, 'metrics.json'), JSON.stringify(fakeMetrics('fae', 1)));
    const { results, report } = await buildReport(run);
    expect(results.rows).toHaveLength(1);
    expect(results.rows[0]).toMatchObject({ runId: 'my-run', mode: 'fae', status: 'ok', speedup: null });
    expect(report.plots.map((p) => p.split('/').pop())).toEqual(['time-to-accuracy.svg', 'time-to-accuracy.png']);
    expect(readFileSync(report.markdown, 'utf8')).toMatch(/\| my-run \| fae \|/);
  });

  it('`report` on a directory without results says what it expected', async () => {
    await expect(buildReport(dir)).rejects.toMatchObject({ code: 'not_found' });
  });
});

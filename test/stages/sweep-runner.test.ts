import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveSweepConfig } from '../../stages/sweep/config.js';
import { expandGrid } from '../../stages/sweep/grid.js';
import { runSweep } from '../../stages/sweep/index.js';
import { CSV_COLUMNS, readResults } from '../../stages/sweep/results.js';
import { runTrainJobs, type TrainJob } from '../../stages/sweep/runner.js';
import { fakeLauncher, fakeMetrics } from '../fixtures/sweep-results/fake.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hotcold-sweep-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function jobs(): TrainJob[] {
  const runs = expandGrid({ mode: ['baseline', 'fae', 'slipstream'], 'slipstream.targetDrop': [0.1, 0.3], seed: [1] });
  return runs.map((run) => ({
    run,
    dir: join(dir, 'runs', run.id),
    fingerprint: 'fp1',
    args: ['train', '--out', join(dir, 'runs', run.id), ...Object.entries(run.params).flatMap(([k, v]) => ['--set', `${k}=${JSON.stringify(v)}`])],
  }));
}

describe('runTrainJobs', () => {
  it('skips runs whose metrics.json exists and launches only the others', async () => {
    const js = jobs();
    for (const id of ['baseline-s1', 'slipstream-D0.3-s1']) {
      mkdirSync(join(dir, 'runs', id), { recursive: true });
      writeFileSync(join(dir, 'runs', id, 'metrics.json'), JSON.stringify(fakeMetrics('baseline', 1)));
    }
    const { launch, calls } = fakeLauncher();
    const out = await runTrainJobs(js, { concurrency: 2, launch });
    const launched = calls.map((c) => c.args[c.args.indexOf('--out') + 1]!.split('/').pop()).sort();
    expect(launched).toEqual(['fae-s1', 'slipstream-D0.1-s1']);
    expect(out.map((o) => o.status)).toEqual(['skipped', 'done', 'done', 'skipped']);
    // a second pass launches nothing
    const again = fakeLauncher();
    await runTrainJobs(js, { launch: again.launch });
    expect(again.calls).toHaveLength(0);
  });

  it('re-runs a finished run whose job fingerprint changed', async () => {
    const js = jobs();
    const { launch } = fakeLauncher();
    await runTrainJobs(js, { launch });
    const changed = js.map((j) => (j.run.id === 'fae-s1' ? { ...j, fingerprint: 'fp2' } : j));
    const again = fakeLauncher();
    await runTrainJobs(changed, { launch: again.launch });
    expect(again.calls.map((c) => c.args[c.args.indexOf('--out') + 1]!.split('/').pop())).toEqual(['fae-s1']);
    expect(JSON.parse(readFileSync(join(dir, 'runs', 'fae-s1', 'job.json'), 'utf8'))).toMatchObject({ fingerprint: 'fp2' });
    expect(readFileSync(join(dir, 'runs', 'fae-s1', 'train.log'), 'utf8')).toMatch(/training fae-s1/);
  });

  it('records a failed run, keeps going, and retries it next time', async () => {
    const js = jobs();
    const logs: string[] = [];
    const { launch } = fakeLauncher({ failIds: ['fae-s1'] });
    const out = await runTrainJobs(js, { concurrency: 1, launch, log: (l) => logs.push(l) });
    expect(out.find((o) => o.id === 'fae-s1')!.status).toBe('failed');
    expect(out.filter((o) => o.status === 'done')).toHaveLength(3);
    const failed = JSON.parse(readFileSync(join(dir, 'runs', 'fae-s1', 'failed.json'), 'utf8')) as { error: string };
    expect(failed.error).toMatch(/exit code 1[\s\S]*boom/);
    expect(logs.some((l) => /\[4\/4\]/.test(l))).toBe(true);
    expect(logs.some((l) => /ETA/.test(l))).toBe(true);
    const again = fakeLauncher();
    const out2 = await runTrainJobs(js, { launch: again.launch });
    expect(again.calls).toHaveLength(1);
    expect(out2.find((o) => o.id === 'fae-s1')!.status).toBe('done');
    expect(existsSync(join(dir, 'runs', 'fae-s1', 'failed.json'))).toBe(false);
  });
});

describe('runSweep (fake stages)', () => {
  it('prepares data, trains the grid, writes results, report and manifest, and resumes', async () => {
    writeFileSync(join(dir, 'train.json'), '{}');
    const c = resolveSweepConfig(
      {
        name: 'fake',
        out: 'sw',
        generate: { rows: 1000, seed: 3 },
        train: { config: 'train.json' },
        grid: { mode: ['baseline', 'fae', 'slipstream'], 'slipstream.targetDrop': [0.1, 0.2, 0.5], seed: [1, 2] },
      },
      dir,
    );
    const { launch, calls } = fakeLauncher({ failIds: ['slipstream-D0.5-s2'] });
    const o = await runSweep(c, { launch, concurrency: 2 });
    const sw = join(dir, 'sw');
    expect(calls.filter((x) => x.args[0] !== 'train').map((x) => x.args[0])).toEqual(['generate', 'preprocess', 'profile', 'segregate', 'calibrate']);
    expect(calls.filter((x) => x.args[0] === 'train')).toHaveLength(10);
    const train = calls.find((x) => x.args.includes(join(sw, 'runs', 'fae-s1')))!;
    expect(train.args).toContain('--hot');
    expect(o.failed).toEqual(['slipstream-D0.5-s2']);

    const r = readResults(sw);
    expect(r.rows).toHaveLength(10);
    expect(r.bayes?.auc).toBe(0.79);
    const s = r.rows.find((x) => x.runId === 'slipstream-D0.2-s2')!;
    expect(s.baselineRun).toBe('baseline-s2');
    expect(s.speedup).toBeCloseTo(10 / (8 * 0.8), 9);
    expect(s.deltaAuc).toBeCloseTo(-0.004 * 0.2, 9);
    expect(s.achievedDrop).toBeCloseTo(0.196, 9);
    expect(s.targetDrop).toBe(0.2);
    expect(r.rows.find((x) => x.runId === 'slipstream-D0.5-s2')!.status).toBe('failed');
    const csv = readFileSync(join(sw, 'results.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe(CSV_COLUMNS.join(','));
    expect(csv).toHaveLength(11);
    for (const f of ['report.md', 'report.html', 'manifest.json', 'sweep.json', 'plots/auc-vs-d.svg', 'plots/speedup-vs-drop.png', 'plots/time-to-accuracy.svg']) {
      expect(existsSync(join(sw, f)), f).toBe(true);
    }
    const manifest = JSON.parse(readFileSync(join(sw, 'manifest.json'), 'utf8')) as { magic: string; runs: { ok: number; failed: number } };
    expect(manifest).toMatchObject({ magic: 'hotcold.sweep', runs: { ok: 9, failed: 1 } });

    // resume: generate reused, only the failed run trains again
    const again = fakeLauncher();
    const o2 = await runSweep(c, { launch: again.launch });
    expect(again.calls.map((x) => x.args[0])).toEqual(['preprocess', 'profile', 'segregate', 'train']); // the calibration is reused too
    expect(o2.failed).toEqual([]);
    expect(o2.outcomes.filter((x) => x.status === 'skipped')).toHaveLength(9);
  });

  it('skips profile and segregate for a baseline-only sweep', async () => {
    writeFileSync(join(dir, 'train.json'), '{}');
    const c = resolveSweepConfig({ out: 'sw', generate: { rows: 100 }, train: { config: 'train.json' }, grid: { mode: ['baseline'], seed: [1] } }, dir);
    const { launch, calls } = fakeLauncher();
    await runSweep(c, { launch });
    expect(calls.map((x) => x.args[0])).toEqual(['generate', 'preprocess', 'calibrate', 'train']);
  });
});

/**
 * A generated, preprocessed, profiled and segregated data set for the train benchmarks,
 * built programmatically through each stage's run(). Reused when already built.
 *
 *     <dir>/synthetic.tsv (+ .json sidecar with the Bayes metrics)
 *     <dir>/data  <dir>/profile  <dir>/hot
 */
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { SyntheticGenerator } from '../datasets/synthetic/generator.js';
import { quietSink } from '../pipeline/progress.js';
import { run as preprocess } from '../stages/preprocess/index.js';
import { run as profile } from '../stages/profile/index.js';
import { run as segregate } from '../stages/segregate/index.js';

export interface BenchData {
  dataDir: string;
  hotDir: string;
  /** Bayes-optimal metrics of the generator on the test half of the last day */
  bayesTest: { auc: number; logloss: number; accuracy: number } | null;
  hotInputShare: number;
}

/**
 * Generate `rows` planted rows and run preprocess → profile → segregate on them.
 * @param hotMem hot-table budget in bytes
 * @param gen generator cardinality scale (× Kaggle's table sizes; default the generator's) and the dim the hot set is sized for (default 16)
 */
export async function prepareBenchData(dir: string, rows: number, seed = 7, hotMem = 64 << 20, log: (s: string) => void = () => {}, opts: { scale?: number; dim?: number } = {}): Promise<BenchData> {
  await mkdir(dir, { recursive: true });
  const tsv = join(dir, 'synthetic.tsv');
  const side = `${tsv}.bench.json`;
  let bayesTest: BenchData['bayesTest'] = null;
  if (!existsSync(side)) {
    const t = performance.now();
    const gen = new SyntheticGenerator({ rows, seed, ...(opts.scale ? { scale: opts.scale } : {}) }, true);
    const ws = createWriteStream(tsv);
    for (const chunk of gen.chunks()) if (!ws.write(chunk)) await once(ws, 'drain');
    ws.end();
    await once(ws, 'finish');
    const st = gen.stats!.finish();
    bayesTest = st.bayesTest;
    writeFileSync(side, JSON.stringify({ rows, seed, bayesTest: st.bayesTest, ctr: st.ctr }));
    log(`generated ${rows} rows in ${((performance.now() - t) / 1000).toFixed(1)}s`);
  } else {
    bayesTest = (JSON.parse(readFileSync(side, 'utf8')) as { bayesTest: BenchData['bayesTest'] }).bayesTest;
  }
  const dataDir = join(dir, 'data');
  const profDir = join(dir, 'profile');
  const hotDir = join(dir, 'hot');
  let t = performance.now();
  await preprocess({ inputs: [tsv], out: dataDir, options: { rowsPerShard: 262_144 } }, { progress: quietSink });
  log(`preprocess ${((performance.now() - t) / 1000).toFixed(1)}s`);
  t = performance.now();
  await profile({ data: dataDir, out: profDir, sampleRate: 0.05, seed: 1 }, { sink: quietSink });
  const seg = await segregate({ data: dataDir, profile: profDir, out: hotDir, dim: opts.dim ?? 16, hotMem }, { sink: quietSink });
  log(`profile + segregate ${((performance.now() - t) / 1000).toFixed(1)}s; hot inputs ${(100 * seg.report.hotInputShare).toFixed(1)}%`);
  return { dataDir, hotDir, bayesTest, hotInputShare: seg.report.hotInputShare };
}

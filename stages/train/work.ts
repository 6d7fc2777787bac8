/**
 * Work accounting of a training run (RunMetrics.work, pipeline/run-metrics.ts): what the run
 * did, counted, so it is identical on every repeat; and the per-step timing distribution.
 *
 *     WorkMeter.onStep(hot, B) / onSlot(samples, wall, cpu)   after every optimizer step / batch slot
 *     WorkMeter.build(device, slip)                  → RunWork, StepTiming for metrics.json
 *
 * Row counts come from the Device (device.ts `rows`), Slipstream's overhead from its own
 * counters (modes/slipstream.ts `work`); FLOPs from the model shape (see {@link layerFlops}).
 */
import { PipelineError } from '../../pipeline/errors.js';
import type { RunWork, StepTiming } from '../../pipeline/run-metrics.js';
import type { Device } from './device.js';
import type { DlrmShape } from './model/arch.js';
import { interactionPairs } from './model/interaction.js';
import type { SlipWork } from './modes/slipstream.js';

/** FLOPs per sample of one layer. */
export interface LayerFlops {
  name: string;
  forward: number;
  backward: number;
}

/**
 * Dense FLOPs per sample, layer by layer (RunWork's convention): linear I→O forward
 * 2·I·O + O, backward 2·I·O (input gradient; not for bot.0) + 2·I·O + 2·O; the interaction
 * over V = F+1 vectors and P = V(V−1)/2 pairs forward 2·d·P, backward 4·d·P.
 */
export function layerFlops(shape: DlrmShape): LayerFlops[] {
  const out: LayerFlops[] = [];
  const linear = (name: string, I: number, O: number, inputGrad: boolean): void => {
    out.push({ name, forward: 2 * I * O + O, backward: (inputGrad ? 2 * I * O : 0) + 2 * I * O + 2 * O });
  };
  for (let l = 0; l + 1 < shape.bot.length; l++) linear(`bot.${l}`, shape.bot[l]!, shape.bot[l + 1]!, l > 0);
  const P = interactionPairs(shape.numTables);
  out.push({ name: 'interaction', forward: 2 * shape.dim * P, backward: 4 * shape.dim * P });
  for (let l = 0; l + 1 < shape.top.length; l++) linear(`top.${l}`, shape.top[l]!, shape.top[l + 1]!, true);
  return out;
}

/** Dense parameters of a shape (weights + biases). */
export function paramCount(shape: DlrmShape): number {
  let n = 0;
  const ws = [shape.bot, shape.top];
  for (const w of ws) for (let l = 0; l + 1 < w.length; l++) n += w[l]! * w[l + 1]! + w[l + 1]!;
  return n;
}

/** Log-spaced histogram (1 % buckets) of positive values: a median without keeping every value. */
export class LogHistogram {
  static readonly RATIO = 1.01;
  private readonly counts = new Map<number, number>();
  n = 0;

  add(x: number): void {
    if (!(x > 0) || !Number.isFinite(x)) return;
    const k = Math.round(Math.log(x) / Math.log(LogHistogram.RATIO));
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    this.n++;
  }

  /** The bucket value holding the median (within 0.5 % of the true median); 0 when empty. */
  median(): number {
    if (this.n === 0) return 0;
    const keys = [...this.counts.keys()].sort((a, b) => a - b);
    let c = 0;
    for (const k of keys) {
      c += this.counts.get(k)!;
      if (2 * c >= this.n) return LogHistogram.RATIO ** k;
    }
    return LogHistogram.RATIO ** keys[keys.length - 1]!;
  }

  toJSON(): [number, number][] {
    return [...this.counts.entries()].sort((a, b) => a[0] - b[0]);
  }

  static from(v: unknown): LogHistogram {
    const h = new LogHistogram();
    if (!Array.isArray(v)) throw new PipelineError('bad_manifest', 'checkpoint position: work histogram is not a list');
    for (const e of v as [number, number][]) {
      h.counts.set(e[0], e[1]);
      h.n += e[1];
    }
    return h;
  }
}

/** The meter's checkpointable state. */
interface MeterState {
  steps: { hot: number; cold: number };
  samples: number;
  wallPerSample: [number, number][];
  cpuPerSample: [number, number][];
}

/** Counts optimizer steps and trained samples, and the per-step time per sample. */
export class WorkMeter {
  private readonly flops: LayerFlops[];
  private readonly params: number;
  steps = { hot: 0, cold: 0 };
  samples = 0;
  private wall = new LogHistogram();
  private cpu = new LogHistogram();

  constructor(shape: DlrmShape) {
    this.flops = layerFlops(shape);
    this.params = paramCount(shape);
  }

  /** After an optimizer step over `B` samples. */
  onStep(hot: boolean, B: number): void {
    if (hot) this.steps.hot++;
    else this.steps.cold++;
    this.samples += B;
  }

  /**
   * After a schedule slot (one batch drawn, filtered, trained in 0, 1 or — re-batching at an
   * epoch's end — 2 steps) that trained `samples` samples in `wallSec` / `cpuSec`.
   */
  onSlot(samples: number, wallSec: number, cpuSec: number): void {
    if (samples <= 0) return;
    this.wall.add(wallSec / samples);
    this.cpu.add(cpuSec / samples);
  }

  /** RunWork and StepTiming of the run so far. */
  build(device: Device, slip: { dropped: number; work: SlipWork } | null): { work: RunWork; steps: StepTiming } {
    const fwd = this.flops.reduce((a, l) => a + l.forward, 0) * this.samples;
    const bwd = this.flops.reduce((a, l) => a + l.backward, 0) * this.samples;
    const total = this.steps.hot + this.steps.cold;
    const r = device.rows;
    const b = device.bytes;
    const work: RunWork = {
      samplesTrained: this.samples,
      samplesDropped: slip?.dropped ?? 0,
      optimizerSteps: { hot: this.steps.hot, cold: this.steps.cold, total },
      denseFlops: { forward: fwd, backward: bwd, total: fwd + bwd, perSample: this.flops.map((l) => ({ ...l })) },
      denseParamUpdates: total * this.params,
      embedding: {
        rowsGathered: r.hotGathered + r.coldGathered,
        rowsUpdated: r.hotUnique + r.coldUnique,
        hotGathered: r.hotGathered,
        hotUpdated: r.hotUnique,
      },
      deviceBytes: b.gatherIn + b.gradOut + b.hotSync,
      slipstream: slip ? { ...slip.work } : null,
    };
    const steps: StepTiming = {
      count: this.wall.n,
      medianWallPerSample: this.wall.median(),
      medianCpuPerSample: this.cpu.median(),
      cpuClock: 'process',
    };
    return { work, steps };
  }

  /** Checkpoint form (JSON). */
  save(): MeterState {
    return { steps: { ...this.steps }, samples: this.samples, wallPerSample: this.wall.toJSON(), cpuPerSample: this.cpu.toJSON() };
  }

  restore(s: unknown): void {
    const m = s as MeterState | undefined;
    if (!m || typeof m.samples !== 'number') throw new PipelineError('bad_manifest', 'checkpoint position lacks the work counters');
    this.steps = { ...m.steps };
    this.samples = m.samples;
    this.wall = LogHistogram.from(m.wallPerSample);
    this.cpu = LogHistogram.from(m.cpuPerSample);
  }
}

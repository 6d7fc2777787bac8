/**
 * The model side of a run: dense model and optimizer (device), embedding tables (host, and
 * the device's hot table), one training step, and the checkpointable state.
 *
 *     step(batch, hot):  gather rows → forward → backward → NaN check → dense update → sparse update
 *                        hot: rows from / updates to the hot table, nothing crosses the link
 *                        cold: rows from / updates to the host tables, counted by the Device
 */
import { PipelineError } from '../../pipeline/errors.js';
import { Rng } from '../../pipeline/rng.js';
import type { TrainState } from './checkpoint/index.js';
import type { TrainConfig } from './config.js';
import { allocBatch, NUM_TABLES, type Batch } from './data/batch.js';
import { Device, type HotMap } from './device.js';
import type { Engine } from './engine/engine.js';
import { Dlrm, parseArch } from './model/dlrm.js';
import { gatherBatch, scatterUpdate } from './model/embedding.js';
import { DenseOptimizer } from './model/optim.js';
import { MemoryColdStore } from './store/memory.js';
import type { ColdStore } from './store/types.js';

/** Name of the dense optimizer's state in a checkpoint. */
const DENSE_OPT_STATE = 'optim.dense.state';

export class Trainer {
  readonly model: Dlrm;
  readonly denseOpt: DenseOptimizer;
  readonly device: Device;
  readonly batch: Batch;
  /** where the cold rows live (memory: the device's host tables) */
  readonly cold: ColdStore;
  private readonly tableRng: Rng;
  private readonly emb: Float32Array;
  private readonly embGrad: Float32Array;

  /**
   * Build and initialise (DLRM init, seeded from cfg.seed: model from stream 11, tables from 12).
   * @param sizes rows per embedding table
   * @param cold the cold store over the device (default: memory, initialised here; others in {@link open})
   * @param shared tables in SharedArrayBuffers (parallel workers, parallel/)
   */
  constructor(cfg: TrainConfig, engine: Engine, sizes: number[], hotMap: HotMap | null, cold?: (device: Device) => ColdStore, shared = false) {
    const shape = parseArch(cfg.model.mlpBot, cfg.model.mlpTop, cfg.model.dim, NUM_TABLES);
    this.model = new Dlrm(shape, engine, Rng.derive(cfg.seed, 11));
    const d = cfg.optim.dense;
    this.denseOpt = new DenseOptimizer(d.kind, this.model.params.length, { lr: d.lr, eps: d.eps, initAccum: d.initAccum });
    this.device = new Device(sizes, cfg.model.dim, { ...cfg.optim.sparse }, hotMap, shared);
    this.tableRng = Rng.derive(cfg.seed, 12);
    this.cold = cold ? cold(this.device) : new MemoryColdStore(this.device, this.model.engine.kernels);
    if (this.cold.kind === 'memory') this.device.init(this.tableRng);
    const B = cfg.train.batchSize;
    this.batch = allocBatch(B);
    this.emb = new Float32Array(B * NUM_TABLES * cfg.model.dim);
    this.embGrad = new Float32Array(B * NUM_TABLES * cfg.model.dim);
  }

  /** Open the cold store (redis: connect, check, seeded bulk init). */
  open(): Promise<void> {
    return this.cold.open(this.tableRng);
  }

  /**
   * Train on `this.batch` (size ≥ 1); a cold batch after `await cold.ready()`.
   * @param hot true: cats hold hot indices, the hot table serves every column
   * @returns the batch's mean BCE
   * @throws PipelineError('numeric') when the loss is NaN/Inf (nothing is updated then)
   */
  step(hot: boolean, where: () => string): number {
    const b = this.batch;
    const B = b.size;
    const dev = this.device;
    if (hot) {
      dev.hotBatch(b.cats, B);
      gatherBatch(dev.hotColumns, b.cats, B, this.emb, this.model.engine.kernels);
      this.cold.countHot(B * NUM_TABLES);
    } else this.cold.gather(b.cats, B, this.emb);
    this.model.forward(B, b.dense, this.emb);
    const loss = this.model.backward(b.labels, this.embGrad);
    if (!Number.isFinite(loss)) {
      throw new PipelineError('numeric', `training loss is ${loss} at ${where()}`, {
        hint: 'lower the learning rates (optim.dense.lr, optim.sparse.lr) or use adagrad',
      });
    }
    this.denseOpt.step(this.model.params, this.model.grads);
    if (hot) scatterUpdate(dev.hotColumns, b.cats, B, this.embGrad, this.model.engine.kernels);
    else this.cold.update(b.cats, B, this.embGrad);
    return loss;
  }

  /**
   * The checkpointable state: dense params + optimizer state, the host tables (the caller
   * syncs the hot rows first), and the caller's blobs and position.
   */
  state(config: unknown, position: Record<string, unknown>, blobs: TrainState['blobs']): TrainState {
    const dense: Record<string, Float32Array> = { ...this.model.paramViews() };
    if (this.denseOpt.state) dense[DENSE_OPT_STATE] = this.denseOpt.state;
    const tables = this.device.tables.map((t, i) => ({
      name: `C${i + 1}`, rows: t.rows, dim: t.dim, weights: t.weights, accum: t.accum, touched: t.touched,
    }));
    return { dense, tables, blobs, position, config };
  }

  /** After a checkpoint was restored into {@link state}'s arrays: put the hot rows back on the device, the cold rows in the store. */
  async afterRestore(): Promise<void> {
    this.device.loadHot(false);
    await this.cold.afterRestore();
  }
}

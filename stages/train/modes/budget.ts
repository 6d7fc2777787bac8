/**
 * Accuracy-budgeted Slipstream (`slipstream.maxAucLoss = ε`): instead of a fixed drop target
 * D, a controller moves D online to the largest drop whose measured AUC loss stays within ε.
 *
 *     at each re-check k (slipstream.rechecks per epoch):
 *       loss_k = AUC(no-drop reference over the window) − AUC(the run, dropping at D_k)
 *       loss_k > ε          → D ← max(dMin, D − step), step halves (overshoot: back off, finer)
 *       loss_k ≤ ε / 2      → D ← min(dMax, D + step)              (room left: drop more)
 *       otherwise           → D unchanged                           (within budget, near it)
 *
 * The controller is pure (decisions from a sequence of measurements), so its behaviour is
 * tested on scripted AUC sequences; the trajectory it records is what the run reports.
 */
import { badConfig } from '../../../pipeline/errors.js';

/** One re-check of the controller. */
export interface BudgetStep {
  /** D used over the window just measured */
  drop: number;
  aucRun: number;
  aucRef: number;
  /** aucRef − aucRun */
  loss: number;
  decision: 'raise' | 'lower' | 'hold';
  /** D for the next window */
  next: number;
}

export interface BudgetOptions {
  /** ε: largest tolerated AUC loss vs the no-drop reference */
  maxAucLoss: number;
  /** D to start from */
  start: number;
  /** first step size; @default 0.1 */
  step?: number;
  /** @default 0 */
  dMin?: number;
  /** @default 0.9 */
  dMax?: number;
  /** smallest step after halvings; @default 0.0125 */
  minStep?: number;
}

/** The D controller of accuracy-budgeted Slipstream (see the module comment). */
export class DropController {
  readonly trajectory: BudgetStep[] = [];
  private d: number;
  private step: number;
  private readonly o: Required<BudgetOptions>;

  constructor(o: BudgetOptions) {
    this.o = { step: 0.1, dMin: 0, dMax: 0.9, minStep: 0.0125, ...o };
    if (!(this.o.maxAucLoss > 0)) throw badConfig('slipstream.maxAucLoss', `${o.maxAucLoss} must be > 0 for a budgeted run`);
    if (!(this.o.dMin <= this.o.start && this.o.start <= this.o.dMax)) {
      throw badConfig('slipstream.targetDrop', `start D ${o.start} must lie in [${this.o.dMin}, ${this.o.dMax}]`);
    }
    this.d = o.start;
    this.step = this.o.step;
  }

  /** The drop target to use now. */
  get drop(): number {
    return this.d;
  }

  /** Record a re-check (AUC of the run and of its no-drop reference) and decide the next D. */
  observe(aucRun: number, aucRef: number): BudgetStep {
    const loss = aucRef - aucRun;
    const { maxAucLoss: eps, dMin, dMax, minStep } = this.o;
    const drop = this.d;
    let decision: BudgetStep['decision'] = 'hold';
    if (!Number.isFinite(loss)) decision = 'hold';
    else if (loss > eps) {
      decision = 'lower';
      this.d = Math.max(dMin, this.d - this.step);
      this.step = Math.max(minStep, this.step / 2);
    } else if (loss <= eps / 2 && this.d < dMax) {
      decision = 'raise';
      this.d = Math.min(dMax, this.d + this.step);
    }
    this.d = Math.round(this.d * 1e6) / 1e6;
    const s: BudgetStep = { drop, aucRun, aucRef, loss, decision, next: this.d };
    this.trajectory.push(s);
    return s;
  }

  /** Checkpoint form. */
  save(): { d: number; step: number; trajectory: BudgetStep[] } {
    return { d: this.d, step: this.step, trajectory: this.trajectory.map((t) => ({ ...t })) };
  }

  restore(s: { d: number; step: number; trajectory: BudgetStep[] }): void {
    this.d = s.d;
    this.step = s.step;
    this.trajectory.splice(0, this.trajectory.length, ...s.trajectory);
  }
}

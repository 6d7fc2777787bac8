/**
 * hotcold's parameters under DLRM's `state_dict` names (facebookresearch/dlrm,
 * `DLRM_Net`): embedding tables are `emb_l.{k}` (nn.EmbeddingBag), the MLPs are
 * nn.Sequential stacks of Linear + ReLU (+ a final Sigmoid on top), so the Linear of
 * layer l sits at index 2·l:
 *
 *     hotcold          DLRM state_dict        shape
 *     C{k+1} table     emb_l.{k}.weight       [rows, dim]
 *     bot.{l}.w / .b   bot_l.{2l}.weight/bias [out, in] / [out]
 *     top.{l}.w / .b   top_l.{2l}.weight/bias [out, in] / [out]
 *
 * Both store W as out×in row-major, so the bytes move unchanged.
 */
import type { LoadedModel } from '../saved/model.js';
import { PipelineError } from '../../../pipeline/errors.js';
import type { Tensor } from './safetensors.js';

/** The DLRM-named fp32 tensors of a model (views, no copies). */
export function dlrmTensors(m: LoadedModel): Tensor[] {
  const out: Tensor[] = [];
  m.tables.forEach((t, k) => out.push({ name: `emb_l.${k}.weight`, shape: [t.rows, t.dim], data: t.weights }));
  const views = m.model.paramViews();
  const { bot, top } = m.model.shape;
  const layer = (prefix: 'bot' | 'top', widths: number[]): void => {
    for (let l = 0; l + 1 < widths.length; l++) {
      const w = views[`${prefix}.${l}.w`];
      const b = views[`${prefix}.${l}.b`];
      if (!w || !b) throw new PipelineError('internal', `model has no parameters ${prefix}.${l}`);
      out.push({ name: `${prefix}_l.${2 * l}.weight`, shape: [widths[l + 1]!, widths[l]!], data: w });
      out.push({ name: `${prefix}_l.${2 * l}.bias`, shape: [widths[l + 1]!], data: b });
    }
  };
  layer('bot', bot);
  layer('top', top);
  return out;
}

/**
 * The architecture as DLRM's flags spell it, for the safetensors `__metadata__` (string values only).
 * `arch_mlp_top` omits the input width, as DLRM's `--arch-mlp-top` does; `top_input_width` gives it.
 */
export function dlrmArchMetadata(m: LoadedModel): Record<string, string> {
  const { dim, numTables, bot, top } = m.model.shape;
  return {
    arch_sparse_feature_size: String(dim),
    arch_mlp_bot: bot.join('-'),
    arch_mlp_top: top.slice(1).join('-'),
    top_input_width: String(top[0]),
    arch_interaction_op: 'dot',
    arch_interaction_itself: 'false',
    num_tables: String(numTables),
    table_sizes: m.tables.map((t) => t.rows).join('-'),
    interaction_order: 'R = [bottom_out, Zflat], Zflat = strictly lower triangle (i > j) of T·Tᵀ row-major, T = [bottom_out, emb_0..emb_F-1]',
  };
}

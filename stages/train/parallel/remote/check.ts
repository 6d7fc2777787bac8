/** What a multi-process run (parallel.transport redis) refuses before anything starts. */
import { PipelineError } from '../../../../pipeline/errors.js';
import type { TrainConfig } from '../../config.js';
import { isParitySpec } from '../../store/parity/layout.js';
import { parseStoreAddress } from '../../store/layout.js';

/** @throws bad_config (no redis store) */
export function checkRemote(cfg: TrainConfig, coldStore: string | undefined): void {
  const K = cfg.parallel.workers;
  if (!coldStore || isParitySpec(coldStore) || !parseStoreAddress(coldStore)) {
    throw new PipelineError('bad_config', `--workers ${K} with parallel.transport=redis needs a redis cold store (--cold-store redis://HOST:PORT or redis-cluster://…), got ${coldStore ?? 'memory'}`, {
      field: '--cold-store', hint: 'the K processes share their cold rows and exchange gradients through that store; parity stores (redis-parity://) take one writer',
    });
  }
}

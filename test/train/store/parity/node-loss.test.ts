import { describe, expect, it } from 'vitest';
import { isNodeLoss } from '../../../../stages/train/store/parity/nodes.js';

describe('isNodeLoss: which node errors mean the node is gone (degrade and rebuild) and which stop the run', () => {
  it('takes every way ioredis reports a killed server as a loss, including commands in a pipeline aborted by the close', () => {
    for (const m of [
      'connect ECONNREFUSED 127.0.0.1:7001',
      'read ECONNRESET',
      'Connection is closed.',
      'Command aborted due to connection close', // ioredis abortIncompletePipelines: seen when a node dies mid-pipeline
      "Stream isn't writeable and enableOfflineQueue options is false",
      'HCLOST node emptied',
    ]) expect(isNodeLoss(new Error(m)), m).toBe(true);
  });

  it('does not take a data error for a lost node', () => {
    for (const m of ['HCCONFLICT row changed', 'ERR wrong number of arguments', 'WRONGTYPE Operation against a key']) expect(isNodeLoss(new Error(m)), m).toBe(false);
  });
});

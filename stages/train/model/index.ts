/** The DLRM model pieces: dense model, layers, interaction, embedding tables, optimizers. */
export { Dlrm, parseArch, validateShape, type DlrmShape } from './dlrm.js';
export { DenseOptimizer, type DenseOptOptions } from './optim.js';
export { EmbeddingTable, gatherBatch, scatterUpdate, type SparseOptConfig } from './embedding.js';
export { interactionPairs, interactionWidth, interactionForward, interactionBackward } from './interaction.js';

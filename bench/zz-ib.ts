import * as A from '../stages/train/model/interaction.js';
import * as D from './zz-inter64.js';
const B = 2048, F = 26, d = 16, W = d + 351;
const bot = new Float32Array(B * d).map(() => Math.random() - 0.5), emb = new Float32Array(B * F * d).map(() => Math.random() - 0.5);
const out = new Float32Array(B * W), tc = new Float32Array(B * 27 * d), tc64 = new Float64Array(B * 27 * d), dout = new Float32Array(B * W).map(() => Math.random() - 0.5);
const dbot = new Float32Array(B * d), demb = new Float32Array(B * F * d), sc = new Float32Array(27 * d);
function cpu(fn: () => void): number { const xs: number[] = []; for (let r = 0; r < 11; r++) { const c = process.cpuUsage(); fn(); const e = process.cpuUsage(c); xs.push((e.user + e.system) / 1000); } xs.sort((a, b) => a - b); return xs[5]!; }
for (let rep = 0; rep < 2; rep++) {
console.log('f32 fwd', cpu(() => A.interactionForward(out, tc, bot, emb, B, F, d)).toFixed(1), 'bwd', cpu(() => A.interactionBackward(dbot, demb, dout, tc, sc, B, F, d)).toFixed(1));
console.log('f64 fwd', cpu(() => D.interactionForward(out, tc64, bot, emb, B, F, d)).toFixed(1), 'bwd', cpu(() => D.interactionBackward(dbot, demb, dout, tc64, sc as unknown as Float32Array, B, F, d)).toFixed(1));
}

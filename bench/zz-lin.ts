import { createEngine } from '../stages/train/engine/engine.js';
import { linearForward, linearBackward, reluBackward } from '../stages/train/model/layers.js';
const e = createEngine('blas');
const B = 2048;
const shapes = [[13, 512], [512, 256], [256, 64], [64, 16], [367, 512], [512, 256], [256, 1]];
const L = shapes.map(([I, O]) => ({ I: I!, O: O!, x: new Float32Array(B * I!).map(() => Math.random()), w: new Float32Array(O! * I!).map(() => Math.random() - 0.5), b: new Float32Array(O!), y: new Float32Array(B * O!), dy: new Float32Array(B * O!).map(() => Math.random() - 0.5), dx: new Float32Array(B * I!), dw: new Float32Array(O! * I!), db: new Float32Array(O!) }));
function cpu(fn: () => void): number { const xs: number[] = []; for (let r = 0; r < 9; r++) { const c = process.cpuUsage(); fn(); const d = process.cpuUsage(c); xs.push((d.user + d.system) / 1000); } xs.sort((a, b) => a - b); return xs[4]!; }
console.log('fwd gemm only', cpu(() => { for (const l of L) e.sgemm(false, true, B, l.O, l.I, 1, l.x, l.I, l.w, l.I, 0, l.y, l.O); }).toFixed(1));
console.log('fwd linear+relu', cpu(() => { for (const l of L) linearForward(e, l.y, l.x, l.w, l.b, B, l.I, l.O, true); }).toFixed(1));
console.log('relu bwd', cpu(() => { for (const l of L) reluBackward(l.dy, l.y, B * l.O); }).toFixed(1));
console.log('bwd gemms only', cpu(() => { for (const l of L) { e.sgemm(false, false, B, l.I, l.O, 1, l.dy, l.O, l.w, l.I, 0, l.dx, l.I); e.sgemm(true, false, l.O, l.I, B, 1, l.dy, l.O, l.x, l.I, 1, l.dw, l.I); } }).toFixed(1));
console.log('bwd linear', cpu(() => { for (const l of L) linearBackward(e, l.dx, l.dw, l.db, l.dy, l.x, l.w, B, l.I, l.O); }).toFixed(1));

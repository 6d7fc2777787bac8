const n = 2048 * 1616;
const out = new Float32Array(n).map(() => Math.random() - 0.5), bias = new Float32Array(512).map(() => Math.random() - 0.5);
const bits = new Int32Array(out.buffer);
const dy = new Float32Array(n).map(() => Math.random() - 0.5); const dbits = new Int32Array(dy.buffer);
function cpu(fn: () => void): number { const xs: number[] = []; for (let r = 0; r < 9; r++) { const c = process.cpuUsage(); fn(); const d = process.cpuUsage(c); xs.push((d.user + d.system) / 1000); } xs.sort((a, b) => a - b); return xs[4]!; }
const O = 512, B = n / O;
const src = Float32Array.from(out);
console.log('ternary', cpu(() => { out.set(src); for (let b = 0; b < B; b++) { const o0 = b * O; for (let o = 0; o < O; o++) { const v = out[o0 + o]! + bias[o]!; out[o0 + o] = v > 0 ? v : 0; } } }).toFixed(1));
console.log('max', cpu(() => { out.set(src); for (let b = 0; b < B; b++) { const o0 = b * O; for (let o = 0; o < O; o++) { out[o0 + o] = Math.max(out[o0 + o]! + bias[o]!, 0); } } }).toFixed(1));
console.log('add then int relu', cpu(() => { out.set(src); for (let b = 0; b < B; b++) { const o0 = b * O; for (let o = 0; o < O; o++) out[o0 + o] = out[o0 + o]! + bias[o]!; } for (let i = 0; i < n; i++) { const x = bits[i]!; bits[i] = x & ~(x >> 31); } }).toFixed(1));
console.log('copy only', cpu(() => { out.set(src); }).toFixed(1));
console.log('relu bwd branch', cpu(() => { for (let i = 0; i < n; i++) if (!(out[i]! > 0)) dy[i] = 0; }).toFixed(1));
console.log('relu bwd int', cpu(() => { for (let i = 0; i < n; i++) dbits[i] = dbits[i]! & ((-bits[i]!) >> 31); }).toFixed(1));

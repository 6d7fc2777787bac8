import { readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { readCriteo, newReadStats } from '../datasets/criteo/reader.js';
import { Categorify } from '../stages/preprocess/ops/categorify.js';
import { logDenseBatch } from '../stages/preprocess/ops/log-dense.js';
import { resolveParser } from '../datasets/criteo/native.js';
import { encodeShard } from '../datasets/shards.js';
import { writeFileSynced } from '../pipeline/atomic.js';
const F = process.argv[2]!;
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e6; };
let c0 = cpu();
const buf = readFileSync(F); console.log('readFile', (cpu() - c0).toFixed(3)); c0 = cpu();
createHash('sha256').update(buf).digest('hex'); console.log('sha256', (cpu() - c0).toFixed(3));
const native = resolveParser('auto');
const cat = new Categorify({ maxIndRange: 0, external: [], native });
const cap = 262144;
const dense = Array.from({ length: 13 }, () => new Float32Array(cap));
const cats = Array.from({ length: 26 }, () => new Int32Array(cap));
const label = new Int8Array(cap);
let tParse = 0, tLog = 0, tCat = 0, tEnc = 0, tW = 0, at = 0, rows = 0;
let t = cpu();
const stats = newReadStats(F);
for await (const b of readCriteo(F, { parser: 'auto' }, stats)) {
  let u = cpu(); tParse += u - t; t = u;
  const n = Math.min(b.rows, cap - at);
  logDenseBatch(dense, at, b); u = cpu(); tLog += u - t; t = u;
  cat.fit(cats, at, b); u = cpu(); tCat += u - t; t = u;
  at += n; rows += b.rows;
  if (at >= cap - 16384) {
    const bytes = encodeShard({ rows: at, label: label.subarray(0, at), dense: dense.map((d) => d.subarray(0, at)), cats: cats.map((c) => c.subarray(0, at)) });
    u = cpu(); tEnc += u - t; t = u;
    writeFileSynced('/tmp/wt10-pre/x.arrow', bytes); createHash('sha256').update(bytes).digest();
    u = cpu(); tW += u - t; t = u;
    at = 0;
  }
}
console.log({ rows, parse_incl_read_sha: tParse.toFixed(3), logDense: tLog.toFixed(3), categorify: tCat.toFixed(3), encode: tEnc.toFixed(3), writeHash: tW.toFixed(3) });

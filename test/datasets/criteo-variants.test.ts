import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RowBatch } from '../../datasets/criteo/batch.js';
import { readCriteo } from '../../datasets/criteo/reader.js';
import { expectCode, useTempDirs } from '../fixtures/temp.js';

const SHARED = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data');
const CRITEO = process.env.HOTCOLD_CRITEO_SAMPLES ?? join(SHARED, 'criteo');
const tmp = useTempDirs('hotcold-variants-');

async function rows(path: string): Promise<number[][]> {
  const out: number[][] = [];
  for await (const b of readCriteo(path)) out.push(...flat(b));
  return out;
}
function flat(b: RowBatch): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < b.rows; r++) {
    const row = [b.label[r]!];
    for (let f = 0; f < 13; f++) row.push(b.dense[f * b.capacity + r]!);
    for (let f = 0; f < 26; f++) row.push(b.catPresent[f * b.capacity + r] ? b.cats[f * b.capacity + r]! : -1);
    out.push(row);
  }
  return out;
}

describe('Kaggle CSV with an Id column', () => {
  it.skipIf(!existsSync(join(CRITEO, 'kaggle-header-200.csv')))('reads Id,Label,I1..C26 with CRLF and 1.0 integers like the plain CSV', async () => {
    const src = readFileSync(join(CRITEO, 'kaggle-header-200.csv'), 'utf8').trim().split('\n');
    const header = `Id,${src[0]!.replace(/^label/, 'Label')}`;
    const body = src.slice(1).map((l, i) => `${10_000_000 + i},${l}`);
    const p = join(tmp(), 'train-with-id.csv');
    writeFileSync(p, [header, ...body].join('\r\n') + '\r\n');
    const got = await rows(p);
    expect(got.length).toBe(src.length - 1);
    expect(got).toEqual(await rows(join(CRITEO, 'kaggle-header-200.csv')));
  });
  it('a hand-made file: the Id is not taken for the label', async () => {
    const names = ['Id', 'Label', ...Array.from({ length: 13 }, (_, i) => `I${i + 1}`), ...Array.from({ length: 26 }, (_, i) => `C${i + 1}`)];
    const line = ['77', '1', '5.0', ...Array(12).fill(''), '68fd1e64', ...Array(25).fill('')].join(',');
    const p = join(tmp(), 'id.csv');
    writeFileSync(p, `${names.join(',')}\n${line}\n`);
    const [r] = await rows(p);
    expect(r![0]).toBe(1);
    expect(r![1]).toBe(5);
    expect(r![14]).toBe(0x68fd1e64);
  });
});

describe('files that are not Criteo', () => {
  it('an Avazu-like header with other columns: "looks like Avazu: 23 columns, header id,click,hour…"', async () => {
    const p = join(tmp(), 'avazu-ish.csv');
    writeFileSync(p, 'id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20\n1,0,14102100\n');
    const e = await expectCode(rows(p), 'bad_input');
    expect(e.message).toMatch(/not a Criteo file: looks like Avazu: 23 columns, header id,click,hour,C1,banner_pos/);
    expect(e.line).toBe(1);
    expect(e.hint).toMatch(/24 Avazu columns/);
  });
  it('an unknown header names its column count', async () => {
    const p = join(tmp(), 'x.csv');
    writeFileSync(p, 'user,item,rating\n1,2,3\n');
    const e = await expectCode(rows(p), 'bad_input');
    expect(e.message).toMatch(/looks like unknown: 3 columns, header user,item,rating/);
  });
});

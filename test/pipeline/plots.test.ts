import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { lineChart, lineChartSpec, toCsv, writePlot } from '../../pipeline/plots.js';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function rows(): { x: number; y: number; s: string }[] {
  const out: { x: number; y: number; s: string }[] = [];
  for (let i = 0; i <= 12; i++) {
    const x = 10 ** (-6 + i / 2);
    out.push({ x, y: x ** 0.2, s: 'fae-hot' }, { x, y: x ** 0.5, s: 'baseline-cold' });
  }
  return out;
}

describe('plots', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hotcold-plots-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('renders a multi-series line chart to SVG and PNG offline', async () => {
    const fetchSpy = vi.fn(() => Promise.reject(new Error('network used')));
    vi.stubGlobal('fetch', fetchSpy);
    const c = await lineChart({
      title: 'Skew test',
      x: { field: 'x', title: 'share of rows', scale: 'log' },
      y: { field: 'y', title: 'share of lookups', format: '.0%' },
      series: 's',
      data: rows(),
      refLines: [{ y: 0.9, label: 'ninety' }, { x: 1e-3, label: 'hot set' }],
    });
    vi.unstubAllGlobals();
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(c.svg.startsWith('<svg')).toBe(true);
    expect(c.svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const text of ['Skew test', 'fae-hot', 'baseline-cold', 'share of rows', 'ninety', 'hot set']) expect(c.svg).toContain(text);
    expect(Array.from(c.png.subarray(0, 8))).toEqual(PNG_MAGIC);
    // PNG IHDR: width and height, scaled 2× from the SVG size
    const view = new DataView(c.png.buffer, c.png.byteOffset);
    const svgWidth = Number(/width="(\d+(?:\.\d+)?)"/.exec(c.svg)![1]);
    expect(view.getUint32(16)).toBe(Math.round(2 * svgWidth));
    expect(view.getUint32(20)).toBeGreaterThan(100);
  });

  it('drops rows that a log axis cannot show and rejects a chart with none', () => {
    const data = [
      { x: 0, y: 1 },
      { x: -1, y: 2 },
      { x: 1, y: 3 },
    ];
    const spec = lineChartSpec({ title: 't', x: { field: 'x', scale: 'log' }, y: { field: 'y' }, data }) as unknown as { data: { values: unknown[] } };
    expect(spec.data.values).toEqual([{ x: 1, y: 3 }]);
    expect(() => lineChartSpec({ title: 't', x: { field: 'x', scale: 'log' }, y: { field: 'y' }, data: [{ x: 0, y: 1 }] })).toThrow(/no drawable data/);
  });

  it('writePlot writes <base>.svg and <base>.png and leaves no temp files', async () => {
    const c = await lineChart({ title: 'w', x: { field: 'x' }, y: { field: 'y' }, data: [{ x: 1, y: 2 }, { x: 2, y: 3 }], mark: 'line+point' });
    const p = await writePlot(join(dir, 'chart'), c);
    expect(readFileSync(p.svg, 'utf8')).toBe(c.svg);
    expect(new Uint8Array(readFileSync(p.png))).toEqual(c.png);
    expect(readdirSync(dir).sort()).toEqual(['chart.png', 'chart.svg']);
    expect(existsSync(join(dir, 'chart'))).toBe(false);
  });

  it('toCsv writes a header and quotes strings that need it', () => {
    expect(toCsv([{ a: 1, b: 'x,y' }, { a: Number.NaN, b: 'q"' }, { a: 2.5, b: null }], ['a', 'b'])).toBe('a,b\n1,"x,y"\n,"q"""\n2.5,\n');
  });
});

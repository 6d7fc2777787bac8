import { describe, expect, it } from 'vitest';
import { PipelineError } from '../../../../pipeline/errors.js';
import { Rng } from '../../../../pipeline/rng.js';
import { StripeCode } from '../../../../stages/train/store/parity/codec.js';
import { coefficients, gfInv, gfMul, invert } from '../../../../stages/train/store/parity/gf.js';
import { parseParityAddress, StripeMap } from '../../../../stages/train/store/parity/layout.js';

describe('parity code over GF(2^8)', () => {
  it('field: every nonzero element has an inverse; mul is commutative and distributes over XOR', () => {
    for (let a = 1; a < 256; a++) expect(gfMul(a, gfInv(a))).toBe(1);
    const rng = new Rng(1);
    for (let i = 0; i < 2000; i++) {
      const [a, b, c] = [rng.int(256), rng.int(256), rng.int(256)];
      expect(gfMul(a, b)).toBe(gfMul(b, a));
      expect(gfMul(a, b ^ c)).toBe(gfMul(a, b) ^ gfMul(a, c));
    }
  });

  it('parity 0 is XOR, and every erasure pattern of up to r members is solvable (k = 5, r = 3, all patterns)', () => {
    const k = 5, r = 3;
    expect(Array.from(coefficients(k, r)[0]!)).toEqual([1, 1, 1, 1, 1]);
    const code = new StripeCode(k, r);
    const n = 37;
    const rng = new Rng(2);
    const buf = new Uint8Array((k + r) * n);
    for (let i = 0; i < k * n; i++) buf[i] = rng.int(256);
    const off = Array.from({ length: k + r }, (_, m) => m * n);
    for (let j = 0; j < r; j++) code.encodeInto(buf, off, j, n);
    const full = buf.slice();
    let patterns = 0;
    for (let mask = 1; mask < 1 << (k + r); mask++) {
      const lost = [...Array(k + r).keys()].filter((m) => mask & (1 << m));
      if (lost.length > r) continue;
      const b = full.slice();
      for (const m of lost) b.fill(0xee, m * n, m * n + n);
      expect(code.solve(b, off, Array.from({ length: k + r }, (_, m) => !lost.includes(m)), n)).toBe(true);
      expect(Buffer.compare(b, full)).toBe(0);
      patterns++;
    }
    expect(patterns).toBe(8 + 28 + 56);
    // r + 1 lost data members: refused, nothing written
    const b = full.slice();
    expect(code.solve(b, off, [false, false, false, false, true, true, true, true], n)).toBe(false);
  });

  it('invert: M · M⁻¹ = I; a singular matrix throws', () => {
    const m = [Uint8Array.from([3, 7, 1]), Uint8Array.from([9, 2, 5]), Uint8Array.from([4, 4, 8])];
    const inv = invert(m);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let x = 0; x < 3; x++) s ^= gfMul(m[i]![x]!, inv[x]![j]!);
      expect(s).toBe(i === j ? 1 : 0);
    }
    expect(() => invert([Uint8Array.from([2, 4]), Uint8Array.from([1, 2])])).toThrow(/singular/);
  });
});

describe('parity address and stripe map', () => {
  it('parses data, parity, spares, prefix and probe; bad input names the field', () => {
    const a = parseParityAddress('redis-parity://h:1,h:2,h:3?data=2&parity=1&spare=h:4,h:5&prefix=p1&probe=50&rebuild=400');
    expect([a.k, a.r, a.nodes.length, a.spares.map((s) => s.port), a.prefix, a.probeMs, a.rebuildRate]).toEqual([2, 1, 3, [4, 5], 'p1', 50, 400]);
    for (const [spec, msg] of [
      ['redis-parity://h:1,h:2?data=2&parity=1', /lists 2 nodes; data=2 \+ parity=1 needs 3/],
      ['redis-parity://h:1,h:2,h:3?parity=1', /needs data=k/],
      ['redis-parity://h:1,h:2,h:3?data=2', /needs parity=r/],
      ['redis-parity://h:1,h:1,h:3?data=2&parity=1', /lists h:1 twice/],
      ['redis-parity://h:1,h:2,h:x?data=2&parity=1', /'h:x' .* is not host:port/],
      ['redis-parity://h:1,h:2,h:3?data=2&parity=1&foo=1', /unknown parameter 'foo=1'/],
    ] as const) {
      try {
        parseParityAddress(spec);
        expect.unreachable(spec);
      } catch (e) {
        expect(e).toBeInstanceOf(PipelineError);
        expect((e as PipelineError).message).toMatch(msg);
        expect((e as PipelineError).field).toBe('--cold-store');
      }
    }
  });

  it('stripe map: node-local block positions cover every block once', () => {
    const m = new StripeMap(4, 1, [1, 31, 32, 33, 129, 1000]);
    const seen = new Set<string>();
    for (let n = 0; n < 4; n++) {
      for (let p = 0; p < m.total(n); p++) {
        const { t, i } = m.at(n, p);
        const blk = i * 4 + n;
        expect(m.dataPos(t, blk)).toBe(p);
        seen.add(`${t}:${blk}`);
      }
    }
    expect(seen.size).toBe(m.blocks.reduce((a, b) => a + b, 0));
    expect(m.total(4)).toBe(m.stripes.reduce((a, b) => a + b, 0));
  });
});

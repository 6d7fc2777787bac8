/**
 * A minimal protobuf encoder, enough for ONNX's ModelProto (onnx/onnx.proto3): varint,
 * 32-bit float, and length-delimited fields (strings, bytes, nested messages). Fields are
 * written in the order they are added; repeated fields are written unpacked, which every
 * protobuf parser accepts.
 *
 *     tag = field << 3 | wire type   (0 varint, 2 length-delimited, 5 fixed 32-bit)
 */

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** One message being built: a list of encoded pieces (large byte arrays are kept by reference). */
export class Message {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }

  private rawVarint(v: bigint | number): void {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) byte |= 0x80;
      out.push(byte);
    } while (x !== 0n);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.rawVarint((field << 3) | wire);
  }

  /** int32 / int64 / enum / bool (negative values as 10-byte two's complement). */
  varint(field: number, v: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(b.length);
    this.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }

  message(field: number, m: Message): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(m.size);
    for (const p of m.parts) this.push(p);
    return this;
  }

  /** Encoded length in bytes. */
  get byteLength(): number {
    return this.size;
  }

  /** The pieces in order (write them back to back). */
  chunks(): readonly Uint8Array[] {
    return this.parts;
  }
}

/**
 * Streaming Criteo reader: Kaggle `train.txt`, Terabyte `day_N`, their `.gz`
 * versions, and the CSV-with-header variant. Never holds more than a few MiB of
 * the file; yields parsed {@link RowBatch}es and hashes the raw bytes on the way.
 *
 * Example::
 *
 *     const stats = newReadStats();
 *     for await (const batch of readCriteo('train.txt.gz', { onBadLine: 'skip' }, stats)) use(batch);
 *     stats.hash; stats.rows; stats.badLines;
 */
import { closeSync, createReadStream, existsSync, openSync, readSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { getSystemErrorName } from 'node:util';
import { createGunzip } from 'node:zlib';
import { notFound, PipelineError } from '../../pipeline/errors.js';
import { ioError, isSystemError } from '../../pipeline/io-error.js';
import { createXxh64 } from '../../pipeline/xxh64.js';
import { createRowBatch, DEFAULT_BATCH_ROWS, type RowBatch } from './batch.js';
import { ALL_COLUMNS, FIELD_COUNT } from './constants.js';
import { isParquetFile } from '../parquet/sniff.js';
import { avazuHeader, readAvazu, sniffFirstLine } from '../avazu/reader.js';
import { resolveParser, type ParseAddon, type ParserChoice } from './native.js';
import { COMMA, createBadLineLog, CriteoLineParser, TAB, type BadLineLog, type OnBadLine } from './parse.js';

/**
 * Raw text layout: `tsv` (no header) or `csv` (comma separated, header `label,I1..,C26`); an
 * Avazu file (its header) is read in the `avazu` layout under `auto`, or in Slipstream's with
 * `avazu-slipstream` (datasets/avazu/constants.ts); both `avazu*` refuse a file that is not Avazu.
 */
export type CriteoFormat = 'auto' | 'tsv' | 'csv' | 'avazu' | 'avazu-slipstream';

export interface ReadOptions {
  /** @default 'auto' (sniffed from the first line) */
  format?: CriteoFormat;
  /** @default 'error' */
  onBadLine?: OnBadLine;
  /** shared log of skipped lines (so several files count together) */
  badLines?: BadLineLog;
  /** @default DEFAULT_BATCH_ROWS */
  batchRows?: number;
  /** reuse one batch object between yields (the consumer must finish with it first) @default true */
  reuseBatch?: boolean;
  /** where fresh batches come from when `reuseBatch` is false (a pool) @default createRowBatch */
  allocBatch?: () => RowBatch | undefined;
  /** bytes per read @default 4 MiB */
  chunkBytes?: number;
  /** native line loop when built (`auto`), always (`native`, an error when not built) or never (`ts`) @default 'auto' */
  parser?: ParserChoice;
  /**
   * Is there a label column? `required` (training data: an unlabelled file is refused with a
   * clear message), `auto` (scoring: 39-field lines or a header without `label` = unlabelled,
   * stored as label 0 and `stats.labelled = false`), `absent` (`--no-label`: a labelled file is refused)
   * @default 'required'
   */
  labels?: LabelMode;
  /**
   * Parse a plain file in place through a read-only memory map (the addon's `mapFile`) instead of
   * copying it into buffers with read(2); only with the native parser, falls back to reading when
   * the map fails. Same rows, hash and errors either way. @default true
   */
  mmap?: boolean;
  /** bytes mapped at a time (for tests; a multiple of 64 KiB, more than 64 KiB + chunkBytes + the longest line) @default 1 GiB */
  mapWindowBytes?: number;
}

/** See {@link ReadOptions.labels}. */
export type LabelMode = 'required' | 'auto' | 'absent';

/** Lines sampled from the start of a headerless file to tell labelled from unlabelled. */
const LABEL_SNIFF_LINES = 1000;

/** What a finished read learned about one file. */
export interface ReadStats {
  path: string;
  /** bytes on disk (compressed size for .gz) */
  bytes: number;
  /** `xxh64:<hex>` of the bytes on disk (pipeline/xxh64.ts; `xxhsum -H1 FILE` prints the same digits) */
  hash: string;
  gzip: boolean;
  format: 'tsv' | 'csv' | 'parquet' | 'avazu';
  /** data lines read, bad lines included */
  lines: number;
  /** good rows yielded */
  rows: number;
  badLines: number;
  /** raw bytes read so far (live, for progress) */
  bytesRead: number;
  /** false when the file has no label column (labels read as 0; known once the first batch is out) */
  labelled: boolean;
}

export function newReadStats(path = ''): ReadStats {
  return { path, bytes: 0, hash: '', gzip: false, format: 'tsv', lines: 0, rows: 0, badLines: 0, bytesRead: 0, labelled: true };
}

/** Longest line accepted; a file without newlines fails fast instead of filling memory. */
const MAX_LINE_BYTES = 1 << 20;
/** Bytes of a plain file mapped at a time (ParseAddon.mapFile's limit), and the alignment of a window's start. */
const MAP_WINDOW = 1 << 30;
const MAP_ALIGN = 1 << 16;
/** Head room in front of each read-ahead buffer's read offset, for the unfinished line carried over. */
const READ_HEAD = 1 << 16;

/** True when the file starts with the gzip magic bytes. */
export function isGzipFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(2);
    const n = readSync(fd, b, 0, 2, 0);
    return n === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/**
 * Stream a Criteo file as parsed row batches.
 * @param path plain or gzip (detected by magic bytes, not by name)
 * @param stats filled in while reading; `hash` and totals are final after the loop ends
 * @throws PipelineError `not_found`, `empty_input`, `truncated` (bad .gz), `bad_input` (file:line: field …)
 */
export async function* readCriteo(path: string, opts: ReadOptions = {}, stats: ReadStats = newReadStats(path)): AsyncGenerator<RowBatch> {
  if (!existsSync(path)) throw notFound('input file', path);
  const st = statSync(path);
  if (!st.isFile() && !st.isFIFO()) throw new PipelineError('bad_config', `input is not a file: ${path}`, { file: path });
  stats.path = path;
  stats.bytes = st.size;
  if (st.isFile() && isParquetFile(path)) {
    // Criteo-shaped Parquet (datasets/parquet): same raw batches, no text parsing
    stats.format = 'parquet';
    const { readCriteoParquet } = await import('../parquet/criteo-reader.js'); // hyparquet loads only for Parquet input
    yield* readCriteoParquet(path, { batchRows: opts.batchRows, reuseBatch: opts.reuseBatch, allocBatch: opts.allocBatch }, stats);
    return;
  }
  stats.gzip = st.isFile() && st.size >= 2 && isGzipFile(path);
  const first = st.isFile() ? sniffFirstLine(path, stats.gzip) : null;
  const avazuFormat = opts.format === 'avazu' || opts.format === 'avazu-slipstream';
  const avazu = first !== null ? avazuHeader(first) : null;
  if (avazu !== null) {
    // Avazu (datasets/avazu): read into Criteo-shaped rows; test.csv (no click column) only where labels may be absent
    stats.format = 'avazu';
    const labelled = avazu === 'labelled';
    decideLabels(path, labelled, `its header has no 'click' column (Avazu's test.csv: id,hour,C1,…,C21)`, `a 'click' column`, opts.labels ?? 'required', stats);
    const layout = opts.format === 'avazu-slipstream' ? 'slipstream' : 'hotcold';
    yield* readAvazu(path, stats.gzip, { batchRows: opts.batchRows, reuseBatch: opts.reuseBatch, allocBatch: opts.allocBatch, onBadLine: opts.onBadLine, badLines: opts.badLines, layout, labelled }, stats);
    return;
  }
  if (avazuFormat) {
    throw new PipelineError('bad_input', `--format ${opts.format}: not an Avazu file (its first line is neither the 24-column Avazu header id,click,hour,C1,…,C21 nor test.csv's 23 columns id,hour,C1,…,C21): ${(first ?? '').slice(0, 80)}`, {
      file: path, line: 1, field: '--format',
    });
  }
  const native = resolveParser(opts.parser);
  const hash = createXxh64();
  const chunkBytes = opts.chunkBytes ?? 1 << 22;
  const mapWindow = opts.mapWindowBytes ?? MAP_WINDOW;
  const raw = stats.gzip ? createReadStream(path, { highWaterMark: chunkBytes }) : null;
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const c of raw!) {
      const b = c as Buffer;
      hash.update(b);
      stats.bytesRead += b.length;
      yield b;
    }
  }
  const gunzipped: AsyncIterable<Buffer> | null = raw ? Readable.from(hashed()).pipe(createGunzip({ chunkSize: 1 << 20 })) : null;
  if (raw) {
    // errors of the file stream do not cross .pipe(); forward them
    raw.on('error', (e) => (gunzipped as Readable).destroy(e));
  }

  const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
  const reuse = opts.reuseBatch ?? true;
  const alloc = (): RowBatch => {
    const b = opts.allocBatch?.() ?? createRowBatch(batchRows);
    b.rows = 0;
    return b;
  };
  let batch = alloc();
  let parser: CriteoLineParser | undefined;
  // gunzipped text is appended here; a plain file's chunks are read into the read-ahead pair instead
  let buf: Buffer = Buffer.allocUnsafe(raw ? Math.max(chunkBytes * 2, 1 << 16) : 0);
  let pos = 0;
  let fill = 0;
  const log = opts.badLines ?? createBadLineLog();

  const flush = function* (): Generator<RowBatch> {
    if (batch.rows === 0) return;
    stats.rows += batch.rows;
    yield batch;
    if (reuse) batch.rows = 0;
    else batch = alloc();
  };

  /** Make room for `n` more bytes at `buf[fill..]`: drop consumed bytes, grow when still short. */
  const room = (n: number): void => {
    if (fill + n <= buf.length) return;
    buf.copyWithin(0, pos, fill);
    fill -= pos;
    pos = 0;
    if (fill + n > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, fill + n));
      buf.copy(bigger, 0, 0, fill);
      buf = bigger;
    }
  };
  /**
   * Append the next piece of text to `buf`; yields its length. Plain files are
   * read straight into `buf` (no chunk buffer, no copy) and hashed there.
   */
  async function* appended(): AsyncGenerator<number> {
    if (gunzipped) {
      for await (const chunk of gunzipped) {
        room(chunk.length);
        chunk.copy(buf, fill);
        fill += chunk.length;
        yield chunk.length;
      }
      return;
    }
    if (native?.mapFile && native.adviseMapped && opts.mmap !== false && stats.bytes > 0) {
      const first = native.mapFile(path, 0, mapWindow);
      if (typeof first !== 'number') {
        yield* mappedChunks(first, native.mapFile.bind(native), native.adviseMapped.bind(native));
        return;
      }
    }
    // Read-ahead: the next chunk is read (on the libuv pool) into the other of two buffers while
    // this one is parsed; each keeps READ_HEAD bytes in front of its read offset, where the line
    // the last chunk left unfinished is copied. (Reading each chunk only once the last was parsed
    // left the parse worker waiting ≈ 1.5 ms per 4 MiB, ≈ 1 s per 10M rows.)
    const fh = await open(path, 'r');
    const pair = [Buffer.allocUnsafe(READ_HEAD + chunkBytes), Buffer.allocUnsafe(READ_HEAD + chunkBytes)];
    let k = 0; // the buffer the pending read fills (never the one being parsed)
    let pending: ReturnType<typeof fh.read> | null = fh.read(pair[k]!, READ_HEAD, chunkBytes, null);
    try {
      for (;;) {
        const { bytesRead } = await pending!;
        pending = null;
        if (bytesRead === 0) return;
        const into = pair[k]!;
        hash.update(into.subarray(READ_HEAD, READ_HEAD + bytesRead));
        stats.bytesRead += bytesRead;
        const left = fill - pos;
        if (left <= READ_HEAD) {
          buf.copy(into, READ_HEAD - left, pos, fill);
          buf = into;
          pos = READ_HEAD - left;
          fill = READ_HEAD + bytesRead;
        } else {
          // an unfinished line longer than the head room (rare: the caller bounds lines)
          const joined = Buffer.allocUnsafe(left + bytesRead);
          buf.copy(joined, 0, pos, fill);
          into.copy(joined, left, READ_HEAD, READ_HEAD + bytesRead);
          buf = joined;
          pos = 0;
          fill = joined.length;
        }
        k ^= 1;
        pending = fh.read(pair[k]!, READ_HEAD, chunkBytes, null);
        pending.catch(() => {}); // awaited at the top of the loop, or in finally
        yield bytesRead;
      }
    } finally {
      if (pending) await pending.catch(() => {});
      await fh.close();
    }
  }

  /**
   * The mapped file in chunkBytes pieces: `buf` becomes a view from the start of the unfinished
   * line to the end of the next piece (offsets stay small: Buffer's indexOf takes none past 2^31).
   * The file is mapped MAP_WINDOW bytes at a time (a Buffer is at most 4 GiB in Node 20); the next
   * window starts at the unfinished line's page. The piece after the current one is advised
   * WILLNEED (the kernel reads it ahead when it is not cached), and pages the parser has passed
   * are dropped from the mapping (DONTNEED), so they do not count as RSS.
   */
  function* mappedChunks(
    firstWindow: Buffer,
    map: NonNullable<ParseAddon['mapFile']>,
    advise: NonNullable<ParseAddon['adviseMapped']>,
  ): Generator<number> {
    const size = stats.bytes;
    let win = firstWindow;
    let winStart = 0; // file offset of win[0]
    let base = 0; // file offset of buf[0]
    let end = 0; // file offset of the end of what was handed out
    let released = 0; // file offset up to which the window's pages were dropped
    /** drop the window's pages in [released, to) from the mapping */
    const release = (to: number): void => {
      advise(win, released - winStart, to - released, 1);
      released = to;
    };
    advise(win, 0, Math.min(win.length, chunkBytes), 0);
    while (end < size) {
      const n = Math.min(chunkBytes, size - end);
      base += pos;
      if (end + n > winStart + win.length) {
        release(winStart + win.length);
        const at = base - (base % MAP_ALIGN);
        const next = map(path, at, mapWindow);
        if (typeof next === 'number') {
          const code = getSystemErrorName(next);
          throw Object.assign(new Error(`${code}: cannot map ${path} from byte ${at} (was it truncated while being read?)`), { code, errno: next, syscall: 'mmap', path });
        }
        win = next;
        winStart = at;
        released = at;
        if (end + n > winStart + win.length) {
          throw new PipelineError('internal', `${path}: a map window of ${mapWindow} bytes does not hold the unfinished line and the next ${n} bytes`, { file: path });
        }
      }
      const ahead = Math.min(end + n + chunkBytes, winStart + win.length) - (end + n);
      if (ahead > 0) advise(win, end + n - winStart, ahead, 0);
      hash.update(win.subarray(end - winStart, end + n - winStart));
      stats.bytesRead += n;
      end += n;
      buf = win.subarray(base - winStart, end - winStart);
      pos = 0;
      fill = buf.length;
      // keep one piece behind the unfinished line mapped
      const keep = Math.max(winStart, base - chunkBytes);
      if (keep - released >= chunkBytes) release(keep);
      yield n;
    }
  }

  try {
    for await (const got of appended()) {
      if (!parser) {
        const nl = buf.indexOf(10, pos);
        if (nl < 0 || nl >= fill) continue;
        ({ parser, pos } = startParser(path, buf, pos, nl, fill, opts, log, stats, native));
      }
      const last = buf.lastIndexOf(10, fill - 1);
      if (last < pos) {
        if (fill - pos > MAX_LINE_BYTES) throw lineTooLong(path, parser.line + 1);
        continue;
      }
      const end = last + 1;
      while (pos < end) {
        pos = parser.parse(buf, pos, end, batch);
        if (batch.rows === batch.capacity) yield* flush();
      }
      // hand over what this chunk completed (a slow pipe must not stall the consumer)
      if (stats.gzip || got < chunkBytes) yield* flush();
    }
    // the last line may lack a newline: add one (the parser relies on a final \n)
    if (fill > pos && buf[fill - 1] !== 10) {
      // copy the unfinished tail (a mapped file is read-only, and may be large)
      const tail = Buffer.allocUnsafe(fill - pos + 1);
      buf.copy(tail, 0, pos, fill);
      tail[fill - pos] = 10;
      buf = tail;
      pos = 0;
      fill = tail.length;
    }
    if (!parser && fill > pos) ({ parser, pos } = startParser(path, buf, pos, fill - 1, fill, opts, log, stats, native));
    if (parser) {
      if (fill - pos > MAX_LINE_BYTES) throw lineTooLong(path, parser.line + 1);
      while (pos < fill) {
        pos = parser.parse(buf, pos, fill, batch);
        if (batch.rows === batch.capacity) yield* flush();
      }
    }
    yield* flush();
  } catch (e) {
    if (e instanceof PipelineError) throw e;
    throw readError(path, e, stats.gzip);
  } finally {
    raw?.destroy();
  }
  stats.hash = hash.digest();
  stats.lines = parser?.dataLines ?? 0;
  stats.badLines = parser?.badLines ?? 0;
  if (stats.lines === 0) {
    throw new PipelineError('empty_input', 'input has no data rows', {
      file: path,
      hint: stats.bytes === 0 ? 'the file is empty' : 'the file holds only blank lines or a header',
    });
  }
}

/** Sniff the format from the first line, skip a CSV header, and build the parser. */
function startParser(
  path: string,
  buf: Buffer,
  pos: number,
  firstEnd: number,
  fill: number,
  opts: ReadOptions,
  log: BadLineLog,
  stats: ReadStats,
  native: ParseAddon | null,
): { parser: CriteoLineParser; pos: number } {
  // a UTF-8 byte order mark is not part of the data
  if (buf[pos] === 0xef && buf[pos + 1] === 0xbb && buf[pos + 2] === 0xbf) pos += 3;
  const first = buf.toString('latin1', pos, firstEnd).replace(/\r$/, '');
  let format = (opts.format ?? 'auto') as 'auto' | 'tsv' | 'csv'; // avazu* never reach here
  if (format === 'auto') format = !first.includes('\t') && first.includes(',') ? 'csv' : 'tsv';
  stats.format = format;
  const parser = new CriteoLineParser(path, format === 'csv' ? COMMA : TAB, opts.onBadLine ?? 'error', log, native);
  const delim = format === 'csv' ? ',' : '\t';
  const firstField = first.split(delim, 1)[0] ?? '';
  const unquote = (x: string) => x.trim().replace(/^"|"$/g, '');
  const fields = first.split(delim).map(unquote);
  // a header: first field 'label', or every field a column name (letters, digits, _)
  if (unquote(firstField).toLowerCase() === 'label' || (fields.length > 1 && fields.every((x) => /^[A-Za-z_]\w*$/.test(x)))) {
    // a header line: accept only the Criteo column names, in order (Kaggle's CSV may lead with an Id column)
    const names = fields.map((x) => x.toLowerCase());
    const want = ALL_COLUMNS.map((s) => s.toLowerCase());
    const skip = names[0] === 'id' ? 1 : 0;
    const body = names.slice(skip);
    const labelled = body.length === want.length && body.every((n, i) => n === want[i]);
    const unlabelled = body.length === want.length - 1 && body.every((n, i) => n === want[i + 1]);
    if (!labelled && !unlabelled) throw unknownHeader(path, first, fields);
    parser.skipFields = skip;
    parser.line = 1;
    pos = firstEnd + 1; // buf[firstEnd] is the header's \n
    setLabelled(path, parser, labelled, `its header has no 'label' column`, opts.labels ?? 'required', stats);
    return { parser, pos };
  }
  const counts = fieldCounts(buf, pos, fill, format === 'csv' ? COMMA : TAB);
  if (counts.has(FIELD_COUNT - 1) && !counts.has(FIELD_COUNT)) {
    setLabelled(path, parser, false, `its lines have ${FIELD_COUNT - 1} fields (I1..I13, C1..C26), not ${FIELD_COUNT}`, opts.labels ?? 'required', stats);
  } else if (counts.has(FIELD_COUNT - 1) && (opts.labels ?? 'required') !== 'required') {
    throw new PipelineError('bad_input', `cannot tell whether ${path} has a label column: its first lines have ${FIELD_COUNT - 1} and ${FIELD_COUNT} fields`, {
      file: path, hint: 'a labelled Criteo line has 40 fields (label, I1..I13, C1..C26), an unlabelled one 39; fix the file, or pass --no-label if it has none',
    });
  } else {
    setLabelled(path, parser, true, '', opts.labels ?? 'required', stats);
  }
  return { parser, pos };
}

/** Field counts of the first {@link LABEL_SNIFF_LINES} non-blank complete lines in buf[pos, fill). */
function fieldCounts(buf: Buffer, pos: number, fill: number, delim: number): Set<number> {
  const seen = new Set<number>();
  let n = 1;
  let lines = 0;
  let empty = true;
  for (let p = pos; p < fill && lines < LABEL_SNIFF_LINES; p++) {
    const c = buf[p];
    if (c === delim) n++;
    else if (c === 10) {
      if (!empty || n > 1) {
        seen.add(n);
        lines++;
      }
      n = 1;
      empty = true;
    } else if (c !== 13) empty = false;
  }
  return seen;
}

/** Apply the label decision, refusing what `mode` does not allow. */
function setLabelled(path: string, parser: CriteoLineParser, labelled: boolean, why: string, mode: LabelMode, stats: ReadStats): void {
  decideLabels(path, labelled, why, `${FIELD_COUNT} fields per line, or a 'label' header`, mode, stats);
  parser.noLabel = !labelled;
}

/**
 * Refuse what `mode` does not allow (an unlabelled file for training, a labelled one under
 * `--no-label`), else record the decision in `stats.labelled`.
 * @param why what shows the file has no label column; @param has what shows it has one
 */
function decideLabels(path: string, labelled: boolean, why: string, has: string, mode: LabelMode, stats: ReadStats): void {
  if (!labelled && mode === 'required') {
    throw new PipelineError('bad_input', `${path} has no label column: ${why}`, {
      file: path, hint: 'preprocess and training need labelled rows (Criteo: label, I1..I13, C1..C26; Avazu: id, click, hour, …); `hotcold predict --input` scores an unlabelled file such as Kaggle\'s test.txt or Avazu\'s test.csv',
    });
  }
  if (labelled && mode === 'absent') {
    throw new PipelineError('bad_input', `--no-label was given but ${path} has a label column (${has})`, {
      file: path, field: '--no-label', hint: 'drop --no-label: the label column is then read (and ignored by predict)',
    });
  }
  stats.labelled = labelled;
}

/** Avazu's headers (Kaggle CTR prediction, 2014): id, click, hour, then 21 categorical columns (test.csv: no click). */
const AVAZU_HEADS = [['id', 'click', 'hour', 'c1', 'banner_pos', 'site_id'], ['id', 'hour', 'c1', 'banner_pos', 'site_id']];

/** The refusal of a header that is not Criteo's: says what the file looks like. */
function unknownHeader(path: string, first: string, fields: string[]): PipelineError {
  const lower = fields.map((f) => f.toLowerCase());
  const looks = AVAZU_HEADS.some((head) => head.every((h, i) => lower[i] === h)) ? 'Avazu' : 'unknown';
  return new PipelineError('bad_input', `not a Criteo file: looks like ${looks}: ${fields.length} columns, header ${first.slice(0, 80)}${first.length > 80 ? '…' : ''}`, {
    file: path,
    line: 1,
    expected: `${ALL_COLUMNS.length} columns ${ALL_COLUMNS.slice(0, 3).join(',')},...,C26 (optionally after an Id column)`,
    hint: looks === 'Avazu' ? `an Avazu file is read when its header has the 24 Avazu columns (id,click,hour,C1,…,C21), or test.csv's 23 (no click)` : undefined,
  });
}

function lineTooLong(path: string, line: number): PipelineError {
  return new PipelineError('bad_input', `line is longer than ${MAX_LINE_BYTES} bytes (is this a Criteo text file?)`, { file: path, line });
}

function readError(path: string, e: unknown, gzip: boolean): PipelineError {
  const err = e as NodeJS.ErrnoException;
  const msg = err.message ?? String(e);
  if (gzip && (err.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(msg))) {
    return new PipelineError('truncated', `compressed data ends early (${msg})`, {
      file: path,
      cause: e,
      hint: 'the .gz file is truncated; download or copy it again',
    });
  }
  if (gzip && (err.code?.startsWith('Z_') || /incorrect header|invalid|unknown compression/i.test(msg))) {
    return new PipelineError('bad_input', `compressed data is corrupt (${msg})`, {
      file: path,
      cause: e,
      hint: 'the .gz file is damaged (not just short); download or copy it again, and check it with `gzip -t`',
    });
  }
  if (isSystemError(e)) return ioError(e, 'read', path) as PipelineError;
  return new PipelineError('bad_input', `cannot read: ${msg}`, { file: path, cause: e });
}

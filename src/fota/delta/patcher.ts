/**
 * The device-side patcher: fed the patch in chunks of any size, it reads the old image through a
 * random-access callback and writes the new image strictly sequentially (a spare flash slot),
 * holding only fixed-size buffers and the model's probability tables. Nothing it holds grows
 * with the image or the patch; `workingMemoryBytes` adds up exactly what it holds.
 *
 * Order of checks: header (magic, version, header check, size limits, the caller's expected
 * digest) → the old image's SHA-256 streamed through `readOld` (wrong base is refused before
 * a single byte is written, because a wrong base would otherwise only show as a digest mismatch
 * after the whole slot was written) → the body, every command bounds-checked against the
 * declared sizes → at `finish()`, exact end of input and the new image's SHA-256.
 */
import { createHash, timingSafeEqual, type Hash } from 'node:crypto';
import { assertBytes, assertInteger } from '../../util/assert.js';
import { InvalidArgumentError } from '../../errors.js';
import {
  DeltaCorruptError,
  DeltaDigestMismatchError,
  DeltaError,
  DeltaIoError,
  DeltaLimitExceededError,
  DeltaStateError,
  DeltaTrailingDataError,
  DeltaTruncatedError,
  DeltaWrongBaseError,
} from './errors.js';
import { decodeHeader, HEADER_SIZE, MAX_IMAGE_SIZE, type DeltaHeader } from './format.js';
import { decoderBitCoder, DeltaModel, LEN_ADD, LEN_EXTRA, type BitCoder } from './model.js';
import { RangeDecoder } from './range-coder.js';

export interface PatcherOptions {
  /** Reads `length` bytes of the old image at `offset` (exactly that many). */
  readOld(offset: number, length: number): Uint8Array | Promise<Uint8Array>;
  /**
   * Receives the next bytes of the new image, in order. The chunk is the patcher's own buffer:
   * it is valid until this call returns (or its promise settles); copy it to keep it.
   */
  writeNew(chunk: Uint8Array): void | Promise<void>;
  /** SHA-256 the new image must have (e.g. from the signed manifest); checked against the header first. */
  expectedDigest?: Uint8Array;
  /** Size of the image `readOld` reads, when known: a different size is refused as the wrong base. */
  oldSize?: number;
  /** Stream the old image through SHA-256 before patching (default true). */
  verifyBase?: boolean;
  /** Largest new image accepted (the spare slot's size). Default 2^31 - 2. */
  maxNewSize?: number;
  /** Size of each of the old-image and output buffers (default 512, 16..65536). */
  bufferSize?: number;
}

export interface PatchResult {
  newSize: number;
  newDigest: Uint8Array;
}

export interface Patcher {
  /** Feeds the next bytes of the patch. Calls are queued in order. */
  push(chunk: Uint8Array): Promise<void>;
  /** Ends the patch: checks completeness, flushes the last output and verifies the digest. */
  finish(): Promise<PatchResult>;
  /** The header, once its bytes have arrived. */
  readonly header: DeltaHeader | undefined;
  /** Bytes of the buffers and tables this patcher holds (constant after creation). */
  readonly workingMemoryBytes: number;
  /** Bytes of the new image written so far. */
  readonly written: number;
}

/** Upper bound of the coded bytes one token (one command head, diff or extra byte) can consume. */
const MAX_TOKEN_BYTES = 64;
const INPUT_BUFFER = 256;

const enum Phase {
  Header,
  Command,
  Add,
  ExtraLength,
  Extra,
  Done,
}

const enum Need {
  Input,
  Old,
  Flush,
  Done,
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

class StreamingPatcher implements Patcher {
  header: DeltaHeader | undefined;
  written = 0;
  private readonly headerBuf = new Uint8Array(HEADER_SIZE);
  private headerLen = 0;
  private readonly dec = new RangeDecoder(INPUT_BUFFER);
  private readonly coder: BitCoder;
  private readonly model = new DeltaModel();
  private readonly oldBuf: Uint8Array;
  private oldBufStart = 0;
  private oldBufLen = 0;
  private readonly outBuf: Uint8Array;
  private outLen = 0;
  private readonly hash: Hash = createHash('sha256');
  private phase = Phase.Header;
  private final = false;
  private oldPos = 0;
  private newPos = 0;
  private left = 0;
  private addLen = 0;
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown;
  private finished = false;

  constructor(private readonly opts: PatcherOptions) {
    this.coder = decoderBitCoder(this.dec);
    const size = opts.bufferSize ?? 512;
    this.oldBuf = new Uint8Array(size);
    this.outBuf = new Uint8Array(size);
  }

  get workingMemoryBytes(): number {
    return this.headerBuf.byteLength + this.dec.buf.byteLength + this.oldBuf.byteLength + this.outBuf.byteLength + this.model.modelBytes;
  }

  push(chunk: Uint8Array): Promise<void> {
    assertBytes(chunk, 'chunk');
    if (this.finished) return Promise.reject(new DeltaStateError('push() after finish()'));
    return this.enqueue(() => this.consume(chunk));
  }

  finish(): Promise<PatchResult> {
    if (this.finished) return Promise.reject(new DeltaStateError('finish() called twice'));
    this.finished = true;
    let result: PatchResult | undefined;
    return this.enqueue(async () => {
      result = await this.complete();
    }).then(() => result!);
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.tail.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      try {
        await task();
      } catch (err) {
        this.failure = err;
        throw err;
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async consume(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      if (this.phase === Phase.Header) {
        const n = Math.min(HEADER_SIZE - this.headerLen, chunk.length - off);
        this.headerBuf.set(chunk.subarray(off, off + n), this.headerLen);
        this.headerLen += n;
        off += n;
        if (this.headerLen === HEADER_SIZE) await this.startBody();
        continue;
      }
      if (this.phase === Phase.Done) throw new DeltaTrailingDataError(chunk.length - off + this.dec.available);
      off += this.dec.append(chunk, off);
      await this.drive();
    }
  }

  private async startBody(): Promise<void> {
    const h = decodeHeader(this.headerBuf);
    const maxNewSize = this.opts.maxNewSize ?? MAX_IMAGE_SIZE;
    if (h.newSize > maxNewSize) throw new DeltaLimitExceededError('new image size', h.newSize, maxNewSize);
    if (this.opts.oldSize !== undefined && this.opts.oldSize !== h.oldSize) {
      throw new DeltaWrongBaseError(`patch is for a ${h.oldSize}-byte image, this one has ${this.opts.oldSize} bytes`);
    }
    if (this.opts.expectedDigest !== undefined && !timingSafeEqual(this.opts.expectedDigest, h.newDigest)) {
      throw new DeltaDigestMismatchError('the patch builds a different image than expected');
    }
    this.header = h;
    if (this.opts.verifyBase ?? true) {
      const hash = createHash('sha256');
      for (let off = 0; off < h.oldSize; off += this.oldBuf.length) {
        const n = Math.min(this.oldBuf.length, h.oldSize - off);
        hash.update(await this.read(off, n));
      }
      if (!timingSafeEqual(hash.digest(), h.oldDigest)) throw new DeltaWrongBaseError('old image SHA-256 differs');
    }
    this.phase = h.newSize === 0 ? Phase.Done : Phase.Command;
  }

  private async read(offset: number, length: number): Promise<Uint8Array> {
    let r: Uint8Array | Promise<Uint8Array>;
    try {
      r = this.opts.readOld(offset, length);
      if (isPromise(r)) r = await r;
    } catch (err) {
      throw new DeltaIoError(`readOld(${offset}, ${length}) failed`, { cause: err });
    }
    if (!(r instanceof Uint8Array) || r.length !== length) {
      throw new DeltaIoError(`readOld(${offset}, ${length}) returned ${r instanceof Uint8Array ? r.length : typeof r} bytes`);
    }
    return r;
  }

  private async flush(): Promise<void> {
    if (this.outLen === 0) return;
    const chunk = this.outBuf.subarray(0, this.outLen);
    this.hash.update(chunk);
    try {
      const r = this.opts.writeNew(chunk);
      if (isPromise(r)) await r;
    } catch (err) {
      throw new DeltaIoError('writeNew failed', { cause: err });
    }
    this.written += this.outLen;
    this.outLen = 0;
  }

  /** Runs the decoder until it needs more patch bytes, handling old-image reads and output flushes. */
  private async drive(): Promise<void> {
    for (;;) {
      const need = this.step();
      if (need === Need.Input || need === Need.Done) return;
      if (need === Need.Flush) {
        await this.flush();
      } else {
        // from one byte before the position (the model's context) to as far as the buffer holds
        const start = this.oldPos > 0 ? this.oldPos - 1 : 0;
        const n = Math.min(this.oldBuf.length, this.header!.oldSize - start);
        this.oldBuf.set(await this.read(start, n));
        this.oldBufStart = start;
        this.oldBufLen = n;
      }
    }
  }

  /** Decodes synchronously as far as buffered input, old bytes and output room allow. */
  private step(): Need {
    const dec = this.dec;
    const h = this.header!;
    const ready = (): boolean => {
      if (dec.available >= MAX_TOKEN_BYTES) return true;
      if (!this.final) return false;
      this.checkOverrun();
      return true;
    };
    try {
      for (;;) {
        switch (this.phase) {
          case Phase.Header:
            return Need.Input;
          case Phase.Done:
            return Need.Done;
          case Phase.Command: {
            if (!ready()) return Need.Input;
            if (!dec.started) dec.start();
            const seek = this.model.seek(this.coder, 0);
            const add = this.model.length(this.coder, LEN_ADD, 0);
            this.checkOverrun();
            const pos = this.oldPos + seek;
            if (pos < 0 || pos > h.oldSize) throw new DeltaCorruptError(`seek to ${pos} outside the old image`);
            if (add > h.oldSize - pos || add > h.newSize - this.newPos) throw new DeltaCorruptError(`add of ${add} bytes out of bounds`);
            this.oldPos = pos;
            this.addLen = add;
            this.left = add;
            this.phase = add > 0 ? Phase.Add : Phase.ExtraLength;
            break;
          }
          case Phase.Add: {
            const model = this.model;
            const coder = this.coder;
            const buf = this.oldBuf;
            const oldSize = h.oldSize;
            while (this.left > 0) {
              // the model looks at old[pos - 1 .. pos + 3]: keep that window in the buffer
              const pos = this.oldPos;
              const at = pos - this.oldBufStart;
              const bufEnd = this.oldBufStart + this.oldBufLen;
              if ((pos > 0 && at < 1) || at < 0 || at >= this.oldBufLen || (pos + 4 > bufEnd && bufEnd < oldSize)) return Need.Old;
              if (this.outLen === this.outBuf.length) return Need.Flush;
              if (!ready()) return Need.Input;
              const o = buf[at]!;
              const word =
                (o |
                  (pos + 1 < bufEnd ? buf[at + 1]! << 8 : 0) |
                  (pos + 2 < bufEnd ? buf[at + 2]! << 16 : 0) |
                  (pos + 3 < bufEnd ? buf[at + 3]! << 24 : 0)) >>>
                0;
              const d = model.diff(coder, 0, pos, pos > 0 ? buf[at - 1]! : 0, word);
              this.outBuf[this.outLen++] = (o + d) & 0xff;
              this.oldPos++;
              this.newPos++;
              this.left--;
            }
            this.checkOverrun();
            this.phase = Phase.ExtraLength;
            break;
          }
          case Phase.ExtraLength: {
            if (!ready()) return Need.Input;
            const extra = this.model.length(this.coder, LEN_EXTRA, 0);
            this.checkOverrun();
            if (extra > h.newSize - this.newPos) throw new DeltaCorruptError(`extra of ${extra} bytes beyond the new image`);
            if (extra === 0 && this.addLen === 0) throw new DeltaCorruptError('command without progress');
            this.left = extra;
            this.phase = Phase.Extra;
            break;
          }
          case Phase.Extra: {
            while (this.left > 0) {
              if (this.outLen === this.outBuf.length) return Need.Flush;
              if (!ready()) return Need.Input;
              this.outBuf[this.outLen++] = this.model.extra(this.coder, 0);
              this.newPos++;
              this.left--;
            }
            this.checkOverrun();
            this.phase = this.newPos === h.newSize ? Phase.Done : Phase.Command;
            break;
          }
        }
      }
    } catch (err) {
      // garbage decoded from the zeros past a truncated end is a truncation, not corruption
      if (err instanceof DeltaError && dec.overrun > 0) throw new DeltaTruncatedError('the coded stream ended early');
      throw err;
    }
  }

  private checkOverrun(): void {
    if (this.dec.overrun > 0) throw new DeltaTruncatedError('the coded stream ended early');
  }

  private async complete(): Promise<PatchResult> {
    if (this.phase === Phase.Header) throw new DeltaTruncatedError(`header incomplete (${this.headerLen} of ${HEADER_SIZE} bytes)`);
    this.final = true;
    await this.drive();
    if (this.phase !== Phase.Done) throw new DeltaTruncatedError(`the new image is incomplete (${this.newPos} of ${this.header!.newSize} bytes)`);
    this.checkOverrun();
    if (this.dec.available > 0) throw new DeltaTrailingDataError(this.dec.available);
    if (this.dec.started && !this.dec.finishedCleanly) throw new DeltaCorruptError('the coded stream does not end cleanly');
    await this.flush();
    const digest = new Uint8Array(this.hash.digest());
    if (!timingSafeEqual(digest, this.header!.newDigest)) throw new DeltaDigestMismatchError('the rebuilt image differs from the patch header');
    return { newSize: this.newPos, newDigest: digest };
  }
}

/** Creates a streaming patcher; see PatcherOptions. */
export function createPatcher(options: PatcherOptions): Patcher {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected an object');
  if (typeof options.readOld !== 'function') throw new InvalidArgumentError('options.readOld', 'expected a function');
  if (typeof options.writeNew !== 'function') throw new InvalidArgumentError('options.writeNew', 'expected a function');
  if (options.expectedDigest !== undefined) assertBytes(options.expectedDigest, 'options.expectedDigest', { len: 32 });
  if (options.oldSize !== undefined) assertInteger(options.oldSize, 'options.oldSize', 0, MAX_IMAGE_SIZE);
  if (options.maxNewSize !== undefined) assertInteger(options.maxNewSize, 'options.maxNewSize', 0, MAX_IMAGE_SIZE);
  if (options.bufferSize !== undefined) assertInteger(options.bufferSize, 'options.bufferSize', 16, 65536);
  return new StreamingPatcher(options);
}

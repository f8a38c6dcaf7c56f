/**
 * Firmware slots (A/B, as MCUboot and most dual-bank devices do it): the image the device runs
 * stays in the active slot while the new one is written to the spare slot; only a successful,
 * confirmed boot makes the spare active. A failed boot of the new slot falls back to the old one.
 * Backing: memory (simulated devices) or a file per slot (a flash partition stand-in).
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { InvalidArgumentError } from '../errors.js';
import { assertInteger } from '../util/assert.js';

/** One flash slot: fixed capacity, random-access reads, writes at any offset inside it. */
export interface FirmwareSlot {
  readonly capacity: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  write(offset: number, bytes: Uint8Array): Promise<void>;
  /** Makes the slot blank (0xFF, like erased NOR flash). */
  erase(): Promise<void>;
}

function checkRange(slot: FirmwareSlot, offset: number, length: number): void {
  assertInteger(offset, 'offset', 0, slot.capacity);
  assertInteger(length, 'length', 0, slot.capacity - offset);
}

export class MemorySlot implements FirmwareSlot {
  readonly capacity: number;
  readonly #bytes: Uint8Array;

  constructor(capacity: number) {
    assertInteger(capacity, 'capacity', 1, 2 ** 31 - 2);
    this.capacity = capacity;
    this.#bytes = new Uint8Array(capacity).fill(0xff);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.#bytes.slice(offset, offset + length);
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    checkRange(this, offset, bytes.length);
    this.#bytes.set(bytes, offset);
  }

  async erase(): Promise<void> {
    this.#bytes.fill(0xff);
  }
}

/** A slot in a file of `capacity` bytes (created blank if missing). Call close() when done. */
export class FileSlot implements FirmwareSlot {
  readonly capacity: number;
  readonly #file: FileHandle;

  private constructor(file: FileHandle, capacity: number) {
    this.#file = file;
    this.capacity = capacity;
  }

  static async open(path: string, capacity: number): Promise<FileSlot> {
    assertInteger(capacity, 'capacity', 1, 2 ** 31 - 2);
    const file = await open(path, 'a+').then(async (f) => {
      await f.close();
      return open(path, 'r+');
    });
    const slot = new FileSlot(file, capacity);
    if ((await file.stat()).size !== capacity) await slot.erase();
    return slot;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.#file.read(out, done, length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return out;
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    checkRange(this, offset, bytes.length);
    await this.#file.write(bytes, 0, bytes.length, offset);
  }

  async erase(): Promise<void> {
    await this.#file.truncate(0);
    const blank = new Uint8Array(Math.min(this.capacity, 64 * 1024)).fill(0xff);
    for (let off = 0; off < this.capacity; off += blank.length) await this.#file.write(blank, 0, Math.min(blank.length, this.capacity - off), off);
    await this.#file.sync();
  }

  close(): Promise<void> {
    return this.#file.close();
  }
}

/** What the bank knows about the image in a slot (from its verified manifest). */
export interface SlotImage {
  version: string;
  /** SUIT sequence number: the anti-rollback counter. */
  sequence: number;
  size: number;
  /** SHA-256 of the image. */
  digest: Uint8Array;
}

/**
 * Two slots and the boot state. `active` is what runs; `spare` receives updates. The swap is
 * trial-then-confirm: `markPending` arms the spare for one boot; `boot` runs it; a boot that
 * does not confirm (injected failure here, a watchdog on hardware) reverts to the old slot.
 */
export class SlotBank {
  readonly slots: readonly [FirmwareSlot, FirmwareSlot];
  #active: 0 | 1;
  readonly #images: [SlotImage | undefined, SlotImage | undefined] = [undefined, undefined];
  #pending = false;

  constructor(slots: readonly [FirmwareSlot, FirmwareSlot], installed: SlotImage, activeIndex: 0 | 1 = 0) {
    if (slots.length !== 2) throw new InvalidArgumentError('slots', 'expected two slots');
    this.slots = slots;
    this.#active = activeIndex;
    this.#images[activeIndex] = installed;
  }

  /** A bank with two memory slots, the active one holding `image` (what a simulated device ships with). */
  static async inMemory(image: Uint8Array, info: { version: string; sequence: number }, capacity = Math.max(image.length * 2, 4096)): Promise<SlotBank> {
    const a = new MemorySlot(capacity);
    await a.write(0, image);
    return new SlotBank([a, new MemorySlot(capacity)], { ...info, size: image.length, digest: new Uint8Array(createHash('sha256').update(image).digest()) });
  }

  get activeSlot(): FirmwareSlot {
    return this.slots[this.#active];
  }

  get spareSlot(): FirmwareSlot {
    return this.slots[this.#active === 0 ? 1 : 0];
  }

  get activeIndex(): 0 | 1 {
    return this.#active;
  }

  /** The running image. */
  get installed(): SlotImage {
    return this.#images[this.#active]!;
  }

  get pending(): boolean {
    return this.#pending;
  }

  /** The spare slot now holds a verified image (or nothing): arm it, or forget it. */
  setSpare(image: SlotImage | undefined): void {
    this.#images[this.#active === 0 ? 1 : 0] = image;
    this.#pending = false;
  }

  get spareImage(): SlotImage | undefined {
    return this.#images[this.#active === 0 ? 1 : 0];
  }

  /** Arms the spare slot for the next boot (trial boot). */
  markPending(): void {
    if (this.spareImage === undefined) throw new InvalidArgumentError('spare', 'the spare slot holds no verified image');
    this.#pending = true;
  }

  /**
   * A (simulated) reboot. With a pending spare the bootloader tries it: `confirms()` stands for
   * the new image coming up and confirming itself. If it does, the slots swap for good; if not,
   * the old slot boots again and the spare is dropped (rollback). Returns what booted.
   */
  async boot(confirms: () => boolean | Promise<boolean>): Promise<{ swapped: boolean; rolledBack: boolean }> {
    if (!this.#pending) return { swapped: false, rolledBack: false };
    this.#pending = false;
    const spare = this.#active === 0 ? 1 : 0;
    if (await confirms()) {
      this.#active = spare;
      return { swapped: true, rolledBack: false };
    }
    this.#images[spare] = undefined;
    await this.slots[spare].erase();
    return { swapped: false, rolledBack: true };
  }

  /** SHA-256 of the first `size` bytes of the active slot, read in blocks (base check for deltas). */
  async activeDigest(blockSize = 4096): Promise<Uint8Array> {
    const h = createHash('sha256');
    const size = this.installed.size;
    for (let off = 0; off < size; off += blockSize) h.update(await this.activeSlot.read(off, Math.min(blockSize, size - off)));
    return new Uint8Array(h.digest());
  }
}

/**
 * Firmware over the air for the simulator: every device gets the SDK's real updater
 * (src/client/firmware-update.ts: SUIT checks, Block2 pull with resume, streamed delta apply
 * into the spare slot, trial boot, confirm, rollback) on an A/B slot bank that holds the
 * fleet's current image, and, when asked, one injected fault chosen deterministically from a
 * seed. Memory is what keeps 10,000 devices in one process: the image a slot holds is a view of
 * one buffer per distinct image (an `ImagePool`), a spare slot allocates pages only while an
 * update writes it, and a confirmed new image is folded back into the pool after the reboot.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connectWithAccount, FirmwareUpdater, pskOfAccount, SlotBank, type FirmwareFaults, type FirmwareSlot, type FirmwareUpdateObject, type ObjectTree, type SlotImage } from '../client/index.js';
import type { ConnectionOptions } from '../client/connection.js';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, assertInteger, assertString } from '../util/assert.js';
import { SimFaultSpecError } from './errors.js';

// ─── faults ─────────────────────────────────────────────────────────────────────────────────────

/** Fault kinds `--faults` accepts, in the order devices are handed out to them. */
export const FAULT_KINDS = ['corrupt', 'signature', 'power-loss', 'boot-failure', 'connection-loss'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A share of the fleet: a percentage (rounded to whole devices) or an exact device count. */
export type FaultShare = { percent: number } | { count: number };
export type FaultSpec = Partial<Record<FaultKind, FaultShare>>;

/**
 * The Update Result (/5/0/5) each fault ends in. A lost link is resumed from the next missing
 * block (RFC 7959 §2.4), so a device with that fault still updates: it is the resume path under
 * test, not a failure. The others fail every attempt (a fault stays in force), so the device is
 * reported failed with this code.
 */
export const FAULT_RESULT: Readonly<Record<FaultKind, number>> = { corrupt: 5, signature: 5, 'power-loss': 8, 'boot-failure': 8, 'connection-loss': 1 };

const MAX_SPEC_LENGTH = 1000;
const ITEM = /^([a-z-]+)=(?:([0-9]{1,3}(?:\.[0-9]{1,3})?)%|([0-9]{1,6}))$/;

/**
 * Parses `corrupt=2%,signature=1%,power-loss=1%,boot-failure=1%,connection-loss=3` (a percentage
 * of the fleet, or an exact count). Kinds at most once; percentages add up to at most 100.
 * Throws SimFaultSpecError (ERR_SIM_FAULT_SPEC) naming the offending item.
 */
export function parseFaultSpec(text: string): FaultSpec {
  if (typeof text !== 'string') throw new SimFaultSpecError('expected a string like corrupt=2%,signature=1%');
  if (text.length === 0 || text.length > MAX_SPEC_LENGTH) throw new SimFaultSpecError(`expected 1..${MAX_SPEC_LENGTH} characters`);
  const spec: FaultSpec = {};
  let percent = 0;
  for (const item of text.split(',')) {
    const m = ITEM.exec(item.trim());
    if (m === null) throw new SimFaultSpecError(`${JSON.stringify(item.slice(0, 60))}: expected <kind>=<percent>% or <kind>=<count>, kinds ${FAULT_KINDS.join(', ')}`);
    const kind = m[1] as FaultKind;
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new SimFaultSpecError(`unknown fault ${JSON.stringify(kind)}; expected one of ${FAULT_KINDS.join(', ')}`);
    if (spec[kind] !== undefined) throw new SimFaultSpecError(`fault ${kind} given twice`);
    if (m[2] !== undefined) {
      const p = Number(m[2]);
      if (p > 100) throw new SimFaultSpecError(`${kind}: ${p}% is above 100%`);
      percent += p;
      spec[kind] = { percent: p };
    } else spec[kind] = { count: Number(m[3]) };
  }
  if (percent > 100) throw new SimFaultSpecError(`the percentages add up to ${Math.round(percent * 1000) / 1000}%, above 100%`);
  return spec;
}

/**
 * Which device gets which fault: devices are ordered by SHA-256(seed, endpoint) and handed out
 * to the kinds in FAULT_KINDS order, each taking round(N × percent / 100) devices (or its
 * count), so the same seed and fleet always give the same faulty devices, the sets are
 * disjoint, and the faulty ones are spread over the fleet (and over a campaign's waves).
 */
export function assignFaults(endpoints: readonly string[], spec: FaultSpec, seed: string): Map<string, FaultKind> {
  assertString(seed, 'seed', { max: 256 });
  const wanted = FAULT_KINDS.map((k) => {
    const share = spec[k];
    if (share === undefined) return 0;
    return 'percent' in share ? Math.round((endpoints.length * share.percent) / 100) : share.count;
  });
  const total = wanted.reduce((a, b) => a + b, 0);
  if (total > endpoints.length) throw new SimFaultSpecError(`${total} faulty devices asked for, the fleet has ${endpoints.length}`);
  const order = endpoints
    .map((ep) => ({ ep, key: createHash('sha256').update(seed).update('\0').update(ep).digest('hex') }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const out = new Map<string, FaultKind>();
  let next = 0;
  FAULT_KINDS.forEach((kind, i) => {
    for (let n = 0; n < wanted[i]!; n++) out.set(order[next++]!.ep, kind);
  });
  return out;
}

/** The SDK fault switches for a kind. `imageSize`: the installed image (power fails halfway into a same-sized new one). */
export function faultsOf(kind: FaultKind | undefined, imageSize: number): FirmwareFaults {
  switch (kind) {
    case 'corrupt':
      return { corruptDownload: true };
    case 'signature':
      return { wrongSignature: true };
    case 'power-loss':
      // Halfway into an image of the installed one's size, at most 64 KiB in: inside any real
      // new image, delta-built or full.
      return { powerLossAtByte: Math.max(1, Math.min(Math.floor(imageSize / 2), 64 * 1024)) };
    case 'boot-failure':
      return { bootFailure: true };
    case 'connection-loss':
      // Before the second block: any package over one block (1 KiB) loses its link mid-download.
      return { connectionLossAtBlock: 1 };
    case undefined:
      return {};
  }
}

// ─── slots that share image buffers ───────────────────────────────────────────────────────────

/** One buffer per distinct image (by SHA-256), shared by every slot that holds that image. */
export class ImagePool {
  readonly #images = new Map<string, Uint8Array>();

  /** The pooled buffer for `digest`, if there is one. */
  get(digest: Uint8Array): Uint8Array | undefined {
    return this.#images.get(Buffer.from(digest).toString('hex'));
  }

  /** The pooled buffer for `digest`, taking `bytes` as it when the pool has none yet. */
  intern(digest: Uint8Array, bytes: Uint8Array): Uint8Array {
    const key = Buffer.from(digest).toString('hex');
    let image = this.#images.get(key);
    if (image === undefined) {
      image = bytes;
      this.#images.set(key, image);
    }
    return image;
  }

  /** Distinct images held. */
  get size(): number {
    return this.#images.size;
  }

  /** Bytes held by the pool. */
  get bytes(): number {
    let n = 0;
    for (const b of this.#images.values()) n += b.length;
    return n;
  }
}

const PAGE = 16 * 1024;

/**
 * A flash slot whose content is a read-only shared image (never written through) plus pages of
 * its own, allocated only where something was written since the last erase. Reads past the
 * shared image and of unwritten pages are 0xFF (erased NOR flash).
 */
export class SharedSlot implements FirmwareSlot {
  readonly capacity: number;
  #shared: Uint8Array | undefined;
  #pages: (Uint8Array | undefined)[] | undefined;

  constructor(capacity: number, shared?: Uint8Array) {
    assertInteger(capacity, 'capacity', 1, 2 ** 31 - 2);
    if (shared !== undefined && shared.length > capacity) throw new InvalidArgumentError('shared', `an image of ${shared.length} bytes does not fit a slot of ${capacity}`);
    this.capacity = capacity;
    this.#shared = shared;
  }

  /** Bytes this slot holds of its own (not shared). */
  get ownBytes(): number {
    return (this.#pages ?? []).reduce((n, p) => n + (p?.length ?? 0), 0);
  }

  /** The shared buffer this slot shows, if any (tests: sharing is real, not a copy). */
  get sharedImage(): Uint8Array | undefined {
    return this.#shared;
  }

  #check(offset: number, length: number): void {
    assertInteger(offset, 'offset', 0, this.capacity);
    assertInteger(length, 'length', 0, this.capacity - offset);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    this.#check(offset, length);
    const out = new Uint8Array(length).fill(0xff);
    const shared = this.#shared;
    const end = offset + length;
    for (let pos = offset; pos < end; ) {
      const p = Math.floor(pos / PAGE);
      const pageEnd = Math.min(end, (p + 1) * PAGE);
      const page = this.#pages?.[p];
      if (page !== undefined) out.set(page.subarray(pos - p * PAGE, pageEnd - p * PAGE), pos - offset);
      else if (shared !== undefined && pos < shared.length) out.set(shared.subarray(pos, Math.min(pageEnd, shared.length)), pos - offset);
      pos = pageEnd;
    }
    return out;
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    this.#check(offset, bytes.length);
    const pages = (this.#pages ??= []);
    const end = offset + bytes.length;
    for (let pos = offset; pos < end; ) {
      const p = Math.floor(pos / PAGE);
      const pageEnd = Math.min(end, (p + 1) * PAGE);
      let page = pages[p];
      if (page === undefined) {
        // Copy on write: the page starts as what the slot showed there.
        page = new Uint8Array(Math.min(PAGE, this.capacity - p * PAGE)).fill(0xff);
        const shared = this.#shared;
        if (shared !== undefined && p * PAGE < shared.length) page.set(shared.subarray(p * PAGE, Math.min(shared.length, (p + 1) * PAGE)));
        pages[p] = page;
      }
      page.set(bytes.subarray(pos - offset, pageEnd - offset), pos - p * PAGE);
      pos = pageEnd;
    }
  }

  async erase(): Promise<void> {
    this.#shared = undefined;
    this.#pages = undefined;
  }

  /**
   * The slot's first `image.length` bytes are `image` and the rest is blank: show the shared
   * buffer instead of its own pages. Only for a verified image (its digest checked).
   */
  share(image: Uint8Array): void {
    if (image.length > this.capacity) throw new InvalidArgumentError('image', `an image of ${image.length} bytes does not fit a slot of ${this.capacity}`);
    this.#shared = image;
    this.#pages = undefined;
  }
}

// ─── the fleet's firmware ────────────────────────────────────────────────────────────────────

export interface SimFirmwareOptions {
  /** The image every device runs at start (shared, never copied per device). */
  image: Uint8Array;
  /** SUIT sequence number of that image's manifest: the device's anti-rollback floor. */
  sequence: number;
  /** Vendor domain the SUIT vendor ID derives from (what the firmware was uploaded with). */
  vendor: string;
  /** SubjectPublicKeyInfo (DER) of the firmware-signing key(s) devices trust. */
  trustedKeys: readonly Uint8Array[];
  faults?: FaultSpec;
  /** Seed of the fault assignment (default 'rootline-sim'). */
  faultSeed?: string;
  /** Slot capacity in bytes (default twice the image, at least 64 KiB). */
  slotCapacity?: number;
  /** Reconnections per download before Update Result 4 (SDK default 3). */
  maxResumes?: number;
}

/** What one device did with firmware so far. */
export interface DeviceFirmwareRecord {
  endpoint: string;
  fault: FaultKind | undefined;
  /** Downloads begun (Package URI or Package written). */
  downloads: number;
  /** Download connections opened: more than downloads means the device resumed. */
  connections: number;
  reboots: number;
  /** Last Update Result (/5/0/5); 0 while a download runs or before any. */
  result: number;
  /** The running version (/3/0/3). */
  version: string;
  /**
   * When (performance.now(), ms) the last update passed each step on the device: download begun
   * (State 1), downloaded and verified (State 2), Execute received (State 3), back up and
   * registered after the reboot. Undefined until the step happens.
   */
  timeline?: { asked?: number; downloaded?: number; executed?: number; registered?: number };
}

export interface FleetFirmwareSummary {
  /** Devices with an updater. */
  devices: number;
  faultsInjected: Partial<Record<FaultKind, number>>;
  /** Devices that began at least one download. */
  asked: number;
  /** Devices whose last result is 1 (running the new image). */
  updated: number;
  /** Devices whose last result is 2..10, by code. */
  failedByResult: Record<string, number>;
  /** Devices with a download or install under way. */
  inProgress: number;
  /** Devices that resumed a download on a new connection. */
  resumed: number;
  /** Buffers shared between devices' slots (distinct images) and their bytes. */
  sharedImages: number;
  sharedImageBytes: number;
}

/** The part of a simulated device the firmware side needs (device.ts implements it). */
export interface FirmwareHost {
  readonly endpointName: string;
  readonly tree: ObjectTree;
  readonly firmwareUpdate: FirmwareUpdateObject;
  readonly closed: boolean;
  /** Hook the device's tree calls when an Object 5 resource or /3/0/3 is set from the device side. */
  onFirmwareSet: ((objectId: number, resourceId: number) => void) | undefined;
  stop(): Promise<void>;
  start(): Promise<void>;
}

const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000];

/** The firmware side of a fleet: one per Fleet, one updater per device. */
export class FleetFirmware {
  readonly #o: Required<Omit<SimFirmwareOptions, 'faults' | 'maxResumes'>> & Pick<SimFirmwareOptions, 'maxResumes'>;
  readonly #model: string;
  readonly #installed: SlotImage;
  readonly #pool = new ImagePool();
  readonly #base: Uint8Array;
  readonly #faults: Map<string, FaultKind>;
  readonly #records: DeviceFirmwareRecord[] = [];
  readonly #updaters = new Map<string, FirmwareUpdater>();
  readonly #errors: Error[] = [];

  constructor(options: SimFirmwareOptions, fleet: { endpoints: readonly string[]; model: string; version: string }) {
    assertBytes(options.image, 'firmware.image', { min: 1 });
    assertInteger(options.sequence, 'firmware.sequence', 0, Number.MAX_SAFE_INTEGER);
    assertString(options.vendor, 'firmware.vendor', { min: 1, max: 253 });
    if (!Array.isArray(options.trustedKeys) || options.trustedKeys.length === 0) throw new InvalidArgumentError('firmware.trustedKeys', 'expected at least one SubjectPublicKeyInfo');
    options.trustedKeys.forEach((k, i) => assertBytes(k, `firmware.trustedKeys[${i}]`, { min: 1 }));
    const capacity = options.slotCapacity ?? Math.max(2 * options.image.length, 64 * 1024);
    assertInteger(capacity, 'firmware.slotCapacity', options.image.length, 2 ** 31 - 2);
    if (options.maxResumes !== undefined) assertInteger(options.maxResumes, 'firmware.maxResumes', 0, 100);
    this.#o = { faultSeed: 'rootline-sim', ...options, slotCapacity: capacity };
    this.#model = fleet.model;
    const digest = new Uint8Array(createHash('sha256').update(options.image).digest());
    // The caller's buffer becomes the pool's: copied once, so a later change by the caller
    // cannot alter what every device runs.
    this.#base = this.#pool.intern(digest, Uint8Array.from(options.image));
    this.#installed = { version: fleet.version, sequence: options.sequence, size: options.image.length, digest };
    this.#faults = assignFaults(fleet.endpoints, options.faults ?? {}, this.#o.faultSeed);
  }

  /** The fault each faulty device carries. */
  get faults(): ReadonlyMap<string, FaultKind> {
    return this.#faults;
  }

  /** Errors no LwM2M answer carried (a slot that failed, a restart that threw). */
  get errors(): readonly Error[] {
    return this.#errors;
  }

  /** Gives `device` its slot bank and updater; `connection`: CoAP/DTLS timing of its downloads. */
  attach(device: FirmwareHost, connection: ConnectionOptions = {}): FirmwareUpdater {
    const endpoint = device.endpointName;
    const fault = this.#faults.get(endpoint);
    const rec: DeviceFirmwareRecord = { endpoint, fault, downloads: 0, connections: 0, reboots: 0, result: 0, version: this.#installed.version };
    this.#records.push(rec);
    const cap = this.#o.slotCapacity;
    const bank = new SlotBank([new SharedSlot(cap, this.#base), new SharedSlot(cap)], this.#installed);
    const tree = device.tree;
    const updater = new FirmwareUpdater({
      tree,
      object: device.firmwareUpdate,
      bank,
      trustedKeys: this.#o.trustedKeys,
      vendor: this.#o.vendor,
      model: this.#model,
      faults: faultsOf(fault, this.#installed.size),
      ...(this.#o.maxResumes !== undefined ? { maxResumes: this.#o.maxResumes } : {}),
      connect: (uri) => {
        rec.connections++;
        return connectWithAccount(tree, uri, connection);
      },
      httpsCredentials: () => pskOfAccount(tree),
      restart: () => this.#reboot(device, bank, rec),
      onError: (err) => void this.#errors.push(err),
    });
    device.onFirmwareSet = (objectId, resourceId) => {
      if (objectId === 3) {
        const v = tree.get(3, 0, 3) as { value?: unknown } | undefined;
        if (typeof v?.value === 'string') rec.version = v.value;
        return;
      }
      if (resourceId === 3) {
        const state = device.firmwareUpdate.state;
        if (state === 1 && device.firmwareUpdate.result === 0) {
          rec.downloads++;
          rec.timeline = { asked: performance.now() };
        } else if (state === 2 && rec.timeline !== undefined) rec.timeline.downloaded = performance.now();
        else if (state === 3 && rec.timeline !== undefined) rec.timeline.executed = performance.now();
      } else if (resourceId === 5) rec.result = device.firmwareUpdate.result;
    };
    this.#updaters.set(endpoint, updater);
    return updater;
  }

  /** A device's updater (tests: await updater.idle()). */
  updater(endpoint: string): FirmwareUpdater | undefined {
    return this.#updaters.get(endpoint);
  }

  /**
   * What a reboot does: the slot that now runs a verified new image shows the pooled buffer
   * for it (its pages go), then the device comes back up and registers again, retrying while
   * the server cannot be reached (a real device keeps trying too).
   */
  async #reboot(device: FirmwareHost, bank: SlotBank, rec: DeviceFirmwareRecord): Promise<void> {
    rec.reboots++;
    const active = bank.activeSlot;
    const image = bank.installed;
    if (active instanceof SharedSlot && active.sharedImage === undefined) {
      // The first device to run this image gives the pool its bytes (verified: the updater
      // checked the digest before the slot was armed); the others drop theirs for the pool's.
      const pooled = this.#pool.get(image.digest) ?? this.#pool.intern(image.digest, await active.read(0, image.size));
      active.share(pooled);
    }
    if (device.closed) return;
    await device.stop();
    for (let attempt = 0; !device.closed; attempt++) {
      try {
        await device.start();
        if (rec.timeline !== undefined) rec.timeline.registered = performance.now();
        // Closed by the fleet while it was coming up: give the socket back.
        if (device.closed) await device.stop();
        return;
      } catch {
        if (device.closed) return;
        await new Promise((r) => setTimeout(r, BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]).unref());
      }
    }
  }

  records(): readonly DeviceFirmwareRecord[] {
    return this.#records;
  }

  summary(): FleetFirmwareSummary {
    const faultsInjected: Partial<Record<FaultKind, number>> = {};
    for (const k of this.#faults.values()) faultsInjected[k] = (faultsInjected[k] ?? 0) + 1;
    const failedByResult: Record<string, number> = {};
    let asked = 0;
    let updated = 0;
    let inProgress = 0;
    let resumed = 0;
    for (const r of this.#records) {
      if (r.downloads > 0) asked++;
      if (r.connections > r.downloads) resumed++;
      if (r.downloads === 0) continue;
      if (r.result === 1) updated++;
      else if (r.result === 0) inProgress++;
      else failedByResult[String(r.result)] = (failedByResult[String(r.result)] ?? 0) + 1;
    }
    return { devices: this.#records.length, faultsInjected, asked, updated, failedByResult, inProgress, resumed, sharedImages: this.#pool.size, sharedImageBytes: this.#pool.bytes };
  }
}

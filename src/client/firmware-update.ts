/**
 * The device side of LwM2M Object 5 (Firmware Update, Core 1.1 Appendix E.6): pull (Write
 * /5/0/1 Package URI, Block2 download with resume), push (Write /5/0/0 Package, Block1), Execute
 * /5/0/2 Update; the SUIT checks before any payload byte reaches flash; full image or streamed
 * delta into the spare slot; a simulated reboot into it with confirmation, and rollback when the
 * new image does not confirm. Fault injection for the simulator.
 */
import { sendOnce } from '../coap/client.js';
import { CoapCode } from '../coap/codec.js';
import { encodeBlock, decodeBlock, blockSize } from '../coap/block.js';
import { parseCoapUri, type CoapUri } from '../coap/coap-request.js';
import { OptionNumber, getOption, opaqueOption, stringOption, type CoapOption } from '../coap/options.js';
import { createPatcher, type Patcher } from '../fota/delta/index.js';
import { createImageVerifier, verifyManifest, type ImageVerifier, type VerifiedManifest } from '../fota/suit/index.js';
import { classIdFor, vendorIdFor } from '../fota/suit/uuid.js';
import { lwm2mValue as v } from '../lwm2m/model/node.js';
import { serverAccount } from './bootstrap-client.js';
import type { Lwm2mClient } from './client.js';
import { connectToServer, type ConnectionOptions, type ServerConnection } from './connection.js';
import { Lwm2mOperationError } from './errors.js';
import { downloadHttps } from './firmware-update-https.js';
import { FirmwareUpdateError, PackageKind, PackageReader, updateResultFor, type PackageHeader } from './firmware-update-package.js';
import type { SlotBank } from './firmware-update-slots.js';
import { ObjectTree, type ResourceValue } from './object-tree.js';
import { FirmwareResult, FirmwareState, SecurityMode, type FirmwareUpdateObject } from './standard-objects.js';

/** Faults the simulator injects per device (each stays in force until changed). */
export interface FirmwareFaults {
  /** One payload byte arrives flipped (a corrupted download): the digest check must catch it. */
  corruptDownload?: boolean;
  /** The received manifest is altered after signing (a bad signature). */
  wrongSignature?: boolean;
  /** Power fails once this many image bytes are in the spare slot: the device reboots on the old image. */
  powerLossAtByte?: number;
  /** The new image never confirms its boot: the bootloader rolls back. */
  bootFailure?: boolean;
  /** The download link drops before this block number (once per download); the device resumes. */
  connectionLossAtBlock?: number;
}

export interface FirmwareUpdaterOptions {
  /** The device's object tree (/3/0/3 is set to the new version after a confirmed boot). */
  tree: ObjectTree;
  object: FirmwareUpdateObject;
  bank: SlotBank;
  /** SubjectPublicKeyInfo (DER) of the firmware-signing keys the device trusts. */
  trustedKeys: readonly Uint8Array[];
  /** The vendor domain and model the device is (SUIT vendor and class identifiers derive from them). */
  vendor: string;
  model: string;
  /** Opens a CoAP(S) connection to the Package URI's host. */
  connect: (uri: CoapUri) => Promise<ServerConnection>;
  /** What a reboot does to the device's LwM2M session (the SDK: stop and register again). */
  restart?: () => Promise<void>;
  faults?: FirmwareFaults;
  /** Block size exponent asked for (default 6, 1024 bytes). */
  block2Szx?: number;
  /** Reconnections (or 5.03 answers) allowed per download before giving up with result 4 (default 3). */
  maxResumes?: number;
  /** Longest wait a 5.03's Max-Age may ask for before the download goes on (default 30 s). */
  maxRetryAfterMs?: number;
  maxManifestSize?: number;
  /** Delay between the Update's 2.04 and the reboot (default 20 ms), so the answer leaves first. */
  rebootDelayMs?: number;
  /** TLS-PSK credentials for https:// Package URIs; without them https is "9: Unsupported protocol". */
  httpsCredentials?: () => { identity: string; key: Uint8Array } | undefined;
  /** Errors that no LwM2M answer carries (restart failures). */
  onError?: (err: Error) => void;
}

class ConnectionLost extends Error {}
class PowerLoss extends Error {}

/** A write into the spare slot: sequential, with the power-loss fault in the path. */
type SpareWriter = (chunk: Uint8Array) => Promise<void>;

export class FirmwareUpdater {
  readonly #o: FirmwareUpdaterOptions;
  readonly #vendorId: Uint8Array;
  readonly #classId: Uint8Array;
  /** Bumped by every new download and by cancel: stale async work checks it and stops. */
  #run = 0;
  #busy: Promise<void> = Promise.resolve();

  constructor(options: FirmwareUpdaterOptions) {
    this.#o = options;
    this.#vendorId = vendorIdFor(options.vendor);
    this.#classId = classIdFor(this.#vendorId, options.model);
    // Resource 8 (Firmware Update Protocol Support): 0 CoAP, 1 CoAPS. Resource 9 (Delivery
    // Method): 2 = both pull and push.
    // (3 = HTTPS 1.1 when the device has credentials for it.)
    const protocols = options.httpsCredentials !== undefined ? [0, 1, 3] : [0, 1];
    options.tree.set(5, 0, 8, new Map(protocols.map((p, i) => [i, v.integer(p)] as const)));
    options.tree.set(5, 0, 9, v.integer(2));
    options.object.bind({
      packageUri: (uri) => this.#begin(() => this.#pull(uri)),
      package: (bytes) => this.#begin(() => this.#push(bytes)),
      update: () => this.#update(),
      cancel: () => void this.#cancel(),
    });
  }

  get faults(): FirmwareFaults {
    return (this.#o.faults ??= {});
  }

  /** Resolves when the current download or update has settled (tests, the simulator). */
  idle(): Promise<void> {
    return this.#busy;
  }

  #begin(work: () => Promise<void>): void {
    const state = this.#o.object.state;
    // A new package while one is being fetched or installed would race the slot writes.
    if (state === FirmwareState.Downloading || state === FirmwareState.Updating) throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, 'a firmware update is already in progress');
    const run = ++this.#run;
    // "0: Initial value. Once the updating process is initiated (Download /Update), this
    // Resource MUST be reset to Initial value." — and State 1: "Downloading (The data sequence
    // is on the way)".
    this.#o.object.setResult(FirmwareResult.Initial);
    this.#o.object.setState(FirmwareState.Downloading);
    this.#o.bank.setSpare(undefined);
    this.#busy = work().catch(async (err: unknown) => {
      if (run !== this.#run) return;
      await this.#discardSpare();
      if (causedBy(err, PowerLoss)) {
        // The device came back up on its old slot with the spare half written; nothing of the
        // download survives, so the attempt ends as "8: Firmware update failed".
        this.#o.object.setState(FirmwareState.Idle);
        this.#o.object.setResult(FirmwareResult.UpdateFailed);
        await this.#restart();
        return;
      }
      // A failed download returns to Idle with the reason in Update Result; the spare slot
      // was erased, so "the device should remove the downloaded firmware image" holds.
      this.#o.object.setState(FirmwareState.Idle);
      this.#o.object.setResult(updateResultFor(err));
    }).catch((err: unknown) => this.#fatal(err));
  }

  /** Something failed while handling a failure (a slot that cannot be erased): Idle, result 8. */
  #fatal(err: unknown): void {
    this.#o.object.setState(FirmwareState.Idle);
    this.#o.object.setResult(FirmwareResult.UpdateFailed);
    this.#o.onError?.(err instanceof Error ? err : new Error(String(err)));
  }

  async #cancel(): Promise<void> {
    this.#run++;
    await this.#discardSpare();
  }

  async #discardSpare(): Promise<void> {
    this.#o.bank.setSpare(undefined);
    await this.#o.bank.spareSlot.erase();
  }

  async #restart(): Promise<void> {
    try {
      await this.#o.restart?.();
    } catch (err) {
      this.#o.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
  }

  // ─── pull ─────────────────────────────────────────────────────────────────────────────────────

  async #pull(uriText: string): Promise<void> {
    const checked = checkPackageUri(uriText, this.#o.httpsCredentials !== undefined);
    if ('https' in checked) return this.#pullHttps(checked.https);
    const uri = checked.coap;
    const run = this.#run;
    const reader = this.#reader();
    const szxWanted = this.#o.block2Szx ?? 6;
    const maxResumes = this.#o.maxResumes ?? 3;
    let conn = await this.#connect(uri);
    let resumes = 0;
    let num = 0;
    let szx = szxWanted;
    let etag: Uint8Array | undefined;
    let lossInjected = false;
    try {
      for (;;) {
        if (run !== this.#run) return;
        let res;
        try {
          if (!lossInjected && this.faults.connectionLossAtBlock === num) {
            lossInjected = true;
            await conn.close();
            throw new ConnectionLost(`link dropped before block ${num} (injected)`);
          }
          res = await sendOnce(conn.coap, conn.peer, {
            code: CoapCode.GET,
            options: [...uri.path.map((s) => stringOption(OptionNumber.UriPath, s)), ...uri.query.map((q) => stringOption(OptionNumber.UriQuery, q)), opaqueOption(OptionNumber.Block2, encodeBlock({ num, more: false, szx }))],
            payload: new Uint8Array(0),
          });
        } catch (err) {
          // Block-wise transfer makes the download resumable (RFC 7959 §2.4: any block can be
          // asked for by number): reconnect and continue at the first block not yet received.
          if (++resumes > maxResumes) throw new FirmwareUpdateError('ERR_FIRMWARE_CONNECTION_LOST', FirmwareResult.ConnectionLost, `download failed ${resumes} times`, { cause: err });
          await conn.close().catch(() => undefined);
          conn = await this.#connect(uri);
          continue;
        }
        // Cancelled (reset, or a new package) while the request was out: the spare slot is the
        // next download's now.
        if (run !== this.#run) return;
        if (res.code === CoapCode.ServiceUnavailable) {
          // RFC 7252 §5.9.3.4: 5.03 is temporary ("Max-Age ... after which to retry"), e.g. a
          // package server that is restarting: the download resumes like a lost link, after
          // Max-Age (bounded), counted against maxResumes.
          if (++resumes > maxResumes) throw new FirmwareUpdateError('ERR_FIRMWARE_CONNECTION_LOST', FirmwareResult.ConnectionLost, `package server unavailable ${resumes} times`);
          await new Promise((r) => setTimeout(r, retryAfterMs(res.options, this.#o.maxRetryAfterMs ?? 30_000)));
          continue;
        }
        if (res.code !== CoapCode.Content) {
          // The server refused this URI (unknown or someone else's token): "7: Invalid URI".
          throw new FirmwareUpdateError('ERR_FIRMWARE_DOWNLOAD_REFUSED', FirmwareResult.InvalidUri, `package server answered ${res.code >> 5}.${String(res.code & 31).padStart(2, '0')}`);
        }
        const raw = getOption(res.options, OptionNumber.Block2);
        const block = raw === undefined ? { num: 0, more: false, szx } : decodeBlock(raw);
        const e = getOption(res.options, OptionNumber.ETag);
        if (etag === undefined) etag = e;
        else if (e === undefined || Buffer.compare(e, etag) !== 0) throw new FirmwareUpdateError('ERR_FIRMWARE_PACKAGE_CHANGED', FirmwareResult.IntegrityCheckFailure, 'the package changed between blocks (ETag)');
        if (block.num * blockSize(block.szx) !== reader.received) throw new FirmwareUpdateError('ERR_FIRMWARE_PACKAGE_CHANGED', FirmwareResult.IntegrityCheckFailure, `asked for offset ${reader.received}, got block ${block.num}`);
        await reader.push(res.payload);
        if (!block.more) break;
        szx = block.szx;
        num = reader.received / blockSize(szx);
      }
    } finally {
      await conn.close().catch(() => undefined);
    }
    if (run !== this.#run) return;
    await this.#complete(reader);
  }

  async #pullHttps(url: URL): Promise<void> {
    const psk = this.#o.httpsCredentials?.();
    if (psk === undefined) throw new FirmwareUpdateError('ERR_FIRMWARE_UNSUPPORTED_PROTOCOL', FirmwareResult.UnsupportedProtocol, 'no TLS-PSK credential for https');
    const run = this.#run;
    const reader = this.#reader();
    const done = await downloadHttps(url, reader, {
      psk,
      maxResumes: this.#o.maxResumes ?? 3,
      // The CoAP fault is per block; over HTTPS the same point is that block's first byte.
      lossAtByte: this.faults.connectionLossAtBlock === undefined ? undefined : this.faults.connectionLossAtBlock * 1024,
      cancelled: () => run !== this.#run,
      fatal: (err) => causedBy(err, PowerLoss),
      maxRetryAfterMs: this.#o.maxRetryAfterMs ?? 30_000,
    });
    if (done && run === this.#run) await this.#complete(reader);
  }

  async #connect(uri: CoapUri): Promise<ServerConnection> {
    try {
      return await this.#o.connect(uri);
    } catch (err) {
      throw new FirmwareUpdateError('ERR_FIRMWARE_CONNECTION_LOST', FirmwareResult.ConnectionLost, `cannot reach ${uri.host}:${uri.port}`, { cause: err });
    }
  }

  // ─── push ─────────────────────────────────────────────────────────────────────────────────────

  async #push(bytes: Uint8Array): Promise<void> {
    const run = this.#run;
    const reader = this.#reader();
    await reader.push(bytes);
    if (run === this.#run) await this.#complete(reader);
  }

  // ─── checks and writes ────────────────────────────────────────────────────────────────────────

  #pendingImage: { view: VerifiedManifest; finish: () => Promise<void> } | undefined;

  #reader(): PackageReader {
    let sink: SpareWriter | undefined;
    let patcher: Patcher | undefined;
    let verifier: ImageVerifier | undefined;
    let corrupted = false;
    this.#pendingImage = undefined;
    return new PackageReader(
      {
        manifest: async (header, manifest) => {
          const view = await this.#verify(header, manifest);
          const spare = this.#o.bank.spareSlot;
          await spare.erase();
          sink = this.#spareWriter();
          if (view.delta !== undefined) {
            const bank = this.#o.bank;
            const active = bank.activeSlot;
            patcher = createPatcher({
              readOld: (offset, length) => active.read(offset, length),
              writeNew: (chunk) => sink!(chunk),
              expectedDigest: view.image.digest!.bytes,
              oldSize: bank.installed.size,
              maxNewSize: spare.capacity,
            });
            this.#pendingImage = { view, finish: async () => void (await patcher!.finish()) };
          } else {
            verifier = createImageVerifier(view);
            this.#pendingImage = { view, finish: async () => verifier!.finish() };
          }
        },
        payload: async (chunk) => {
          let data = chunk;
          if (this.faults.corruptDownload === true && !corrupted) {
            corrupted = true;
            data = Uint8Array.from(chunk);
            data[data.length >> 1]! ^= 0x01;
          }
          if (patcher !== undefined) await patcher.push(data);
          else {
            verifier!.update(data);
            await sink!(data);
          }
        },
      },
      this.#o.maxManifestSize !== undefined ? { maxManifestSize: this.#o.maxManifestSize } : {},
    );
  }

  #spareWriter(): SpareWriter {
    const spare = this.#o.bank.spareSlot;
    let offset = 0;
    return async (chunk) => {
      if (offset + chunk.length > spare.capacity) throw new FirmwareUpdateError('ERR_FIRMWARE_NO_SPACE', FirmwareResult.NotEnoughFlash, 'the image does not fit the spare slot');
      const cut = this.faults.powerLossAtByte;
      if (cut !== undefined && offset + chunk.length >= cut) {
        await spare.write(offset, chunk.subarray(0, Math.max(0, cut - offset)));
        throw new PowerLoss(`power lost at byte ${cut} of the spare slot (injected)`);
      }
      await spare.write(offset, chunk);
      offset += chunk.length;
    };
  }

  /** Everything decided before the first payload byte: signature, sequence, class, kind, size, base. */
  async #verify(header: PackageHeader, manifest: Uint8Array): Promise<VerifiedManifest> {
    let bytes = manifest;
    if (this.faults.wrongSignature === true) {
      bytes = Uint8Array.from(manifest);
      bytes[bytes.length - 1]! ^= 0x01;
    }
    const bank = this.#o.bank;
    // RFC 9124 §3.2 anti-rollback: the sequence number must exceed the installed manifest's.
    const view = await verifyManifest(bytes, { trustedKeys: [...this.#o.trustedKeys], vendorId: this.#vendorId, classId: this.#classId, minSequence: bank.installed.sequence });
    if ((header.kind === PackageKind.Delta) !== (view.delta !== undefined)) {
      throw new FirmwareUpdateError('ERR_FIRMWARE_PACKAGE_KIND', FirmwareResult.UnsupportedPackageType, 'package kind and manifest disagree on full image vs. delta');
    }
    if (view.image.digest === undefined || view.image.size === undefined) throw new FirmwareUpdateError('ERR_FIRMWARE_PACKAGE_UNSUPPORTED', FirmwareResult.UnsupportedPackageType, 'the manifest names no image digest and size');
    if (view.image.size > bank.spareSlot.capacity) throw new FirmwareUpdateError('ERR_FIRMWARE_NO_SPACE', FirmwareResult.NotEnoughFlash, `image of ${view.image.size} bytes, spare slot of ${bank.spareSlot.capacity}`);
    if (view.delta !== undefined) {
      // The delta's base must be exactly the running image (rootline condition -24), checked
      // before the spare slot is touched.
      const installed = bank.installed;
      const same = (view.delta.baseSize === undefined || view.delta.baseSize === installed.size) && Buffer.compare(view.delta.baseDigest.bytes, await bank.activeDigest()) === 0;
      if (!same) throw new FirmwareUpdateError('ERR_FIRMWARE_WRONG_BASE', FirmwareResult.IntegrityCheckFailure, 'the delta is for another base image');
    }
    return view;
  }

  async #complete(reader: PackageReader): Promise<void> {
    reader.finish();
    const pending = this.#pendingImage;
    if (pending === undefined) throw new FirmwareUpdateError('ERR_FIRMWARE_PACKAGE_TRUNCATED', FirmwareResult.IntegrityCheckFailure, 'the package ended early');
    await pending.finish();
    const { view } = pending;
    this.#o.bank.setSpare({ version: view.version ?? String(view.sequenceNumber), sequence: view.sequenceNumber, size: view.image.size!, digest: view.image.digest!.bytes });
    // Resources 6 and 7: PkgName and PkgVersion "from the package".
    this.#o.tree.set(5, 0, 6, v.string(this.#o.model));
    this.#o.tree.set(5, 0, 7, v.string(view.version ?? ''));
    // "If ... the device has downloaded the firmware package from the Package URI the state
    // changes to Downloaded."
    this.#o.object.setState(FirmwareState.Downloaded);
  }

  // ─── update ───────────────────────────────────────────────────────────────────────────────────

  #update(): void {
    const run = ++this.#run;
    // The Execute is answered first (the object set State 3 Updating); the reboot follows.
    this.#busy = new Promise<void>((resolve) => setTimeout(resolve, this.#o.rebootDelayMs ?? 20)).then(async () => {
      if (run !== this.#run) return;
      const bank = this.#o.bank;
      const image = bank.spareImage;
      // Cancelled between Downloaded and the reboot: nothing to boot into.
      if (image === undefined) throw new FirmwareUpdateError('ERR_FIRMWARE_NOTHING_TO_INSTALL', FirmwareResult.UpdateFailed, 'the spare slot holds no verified image');
      bank.markPending();
      const { swapped } = await bank.boot(() => this.faults.bootFailure !== true);
      if (swapped) {
        // Confirmation: the new image runs and says so in /3/0/3 Firmware Version.
        this.#o.tree.set(3, 0, 3, v.string(image.version));
        this.#o.object.setResult(FirmwareResult.Success);
      } else {
        // The new slot never confirmed; the bootloader went back to the old image. "If the
        // Update Resource failed, the state may return to either Downloaded or Idle depending
        // on the underlying reason": the spare is gone, so Idle, "8: Firmware update failed".
        this.#o.object.setResult(FirmwareResult.UpdateFailed);
      }
      this.#o.object.setState(FirmwareState.Idle);
      await this.#restart();
    }).catch((err: unknown) => this.#fatal(err));
  }
}

/** Max-Age of a 5.03 in ms (RFC 7252 §5.10.5: default 60 s), at most `cap`. */
function retryAfterMs(options: readonly CoapOption[], cap: number): number {
  const raw = getOption(options, OptionNumber.MaxAge);
  let seconds = 60;
  if (raw !== undefined) {
    seconds = 0;
    for (const b of raw) seconds = seconds * 256 + b;
  }
  return Math.min(cap, seconds * 1000);
}

function causedBy(err: unknown, type: new (...args: never[]) => Error): boolean {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 8; depth++) {
    if (e instanceof type) return true;
    e = (e as Error).cause;
  }
  return false;
}

/** Result 9 for a scheme the device cannot fetch ("Unsupported protocol"), 7 for an unusable URI. */
function checkPackageUri(text: string, https: boolean): { coap: CoapUri } | { https: URL } {
  let url: URL;
  try {
    url = new URL(text);
  } catch (err) {
    throw new FirmwareUpdateError('ERR_FIRMWARE_INVALID_URI', FirmwareResult.InvalidUri, 'the Package URI is not an absolute URI', { cause: err });
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme === 'https' && https) {
    if (url.hostname === '' || url.hash !== '' || url.username !== '') throw new FirmwareUpdateError('ERR_FIRMWARE_INVALID_URI', FirmwareResult.InvalidUri, 'the Package URI is not a usable https URI');
    return { https: url };
  }
  if (scheme !== 'coap' && scheme !== 'coaps') throw new FirmwareUpdateError('ERR_FIRMWARE_UNSUPPORTED_PROTOCOL', FirmwareResult.UnsupportedProtocol, `scheme ${scheme} is not supported (coap, coaps${https ? ', https' : ''})`);
  try {
    return { coap: parseCoapUri(text) };
  } catch (err) {
    throw new FirmwareUpdateError('ERR_FIRMWARE_INVALID_URI', FirmwareResult.InvalidUri, 'the Package URI is not a usable CoAP URI', { cause: err });
  }
}

export interface AttachFirmwareUpdaterOptions extends Omit<FirmwareUpdaterOptions, 'tree' | 'object' | 'connect' | 'restart'> {
  connect?: FirmwareUpdaterOptions['connect'];
  restart?: FirmwareUpdaterOptions['restart'];
  /** CoAP/DTLS options of the download connection. */
  connection?: ConnectionOptions;
}

/**
 * Plugs a FirmwareUpdater into an SDK client's Object 5. By default the package is fetched over
 * a new connection with the management server account's credentials (Security object), and a
 * reboot stops the client and registers again, as a real device coming back up would.
 */
export function attachFirmwareUpdater(client: Lwm2mClient, options: AttachFirmwareUpdaterOptions): FirmwareUpdater {
  const object = client.firmware;
  if (object === undefined) throw new Lwm2mOperationError(CoapCode.NotFound, 'the client has no Firmware Update object (caller-supplied tree)');
  return new FirmwareUpdater({
    ...options,
    tree: client.tree,
    object,
    connect: options.connect ?? ((uri) => connectWithAccount(client.tree, uri, options.connection)),
    httpsCredentials: options.httpsCredentials ?? (() => pskOfAccount(client.tree)),
    restart:
      options.restart ??
      (async () => {
        await client.stop();
        await client.start();
      }),
  });
}

/** A connection to `uri` with the credentials of the management server's Security instance. */
export async function connectWithAccount(tree: ObjectTree, uri: CoapUri, options: ConnectionOptions = {}): Promise<ServerConnection> {
  const account = serverAccount(tree);
  if (account === undefined) throw new FirmwareUpdateError('ERR_FIRMWARE_NO_ACCOUNT', FirmwareResult.UnsupportedProtocol, 'no server account to take credentials from');
  const copy = new ObjectTree(tree.registry);
  const resources: Record<number, ResourceValue> = {};
  for (const r of tree.resourceIds(0, account.security)) resources[r] = tree.get(0, account.security, r)!;
  const host = uri.host.includes(':') ? `[${uri.host}]` : uri.host;
  resources[0] = v.string(`${uri.scheme}://${host}:${uri.port}`);
  if (uri.scheme === 'coap') resources[2] = v.integer(SecurityMode.NoSec);
  copy.setInstance(0, account.security, resources);
  return connectToServer(copy, account.security, options);
}

/** The management account's PSK identity and key, if its Security Mode is PSK (for https pulls). */
export function pskOfAccount(tree: ObjectTree): { identity: string; key: Uint8Array } | undefined {
  const account = serverAccount(tree);
  if (account === undefined) return undefined;
  const mode = (tree.get(0, account.security, 2) as { value?: unknown } | undefined)?.value;
  const identity = tree.get(0, account.security, 3) as { type?: string; value?: unknown } | undefined;
  const key = tree.get(0, account.security, 5) as { type?: string; value?: unknown } | undefined;
  if (mode !== SecurityMode.PreSharedKey || identity?.type !== 'opaque' || key?.type !== 'opaque') return undefined;
  return { identity: Buffer.from(identity.value as Uint8Array).toString('utf8'), key: key.value as Uint8Array };
}

/**
 * verifyManifest: everything a device decides before it downloads a byte of payload.
 *
 *   1. decode the envelope (limits), 2. check the authenticated digest covers the manifest bytes,
 *   3. verify a signature block with a trusted key, 4. only then decode the manifest,
 *   5. anti-rollback: sequence number strictly greater than the installed one (RFC 9124 §3.2,
 *      REQ.SEC.SEQUENCE), 6. vendor and class identifier conditions (RFC 9124 §3.3/§3.4,
 *      REQ.SEC.COMPATIBLE), 7. severed members match their digests.
 *
 * Returns a typed view of what rootline's manifests carry; any failure is a SuitError.
 */
import type { PublicKeyInput } from '../../cose/signature-keys.js';
import { InvalidArgumentError } from '../../errors.js';
import { assertInteger, describeType } from '../../util/assert.js';
import { toHex } from './cbor-util.js';
import { decodeEnvelope, decodeManifest, decodeSeveredSequence, decodeText, type DecodeLimits, type SuitCommand, type SuitManifest, type SuitParameters } from './decode.js';
import { assertSupportedDigest, digestMatches, wrappedDigestOf, type SuitDigest } from './digest.js';
import { SuitBadSignatureError, SuitError, SuitMalformedError, SuitRollbackError, SuitUnknownKeyError, SuitWrongClassError } from './errors.js';
import { prepareTrustedKeys, verifyAuthenticationBlock, type BlockVerification, type TrustedKeyInput } from './authenticate.js';
import { ComponentTextKey, Condition, Directive, ManifestKey, PayloadFormat, RootlineCondition } from './labels.js';
import { toUuidBytes } from './uuid.js';

export interface VerifyManifestOptions {
  /** Keys allowed to sign manifests (SPKI DER, KeyObject, COSE_Key, or { key, kid }). */
  trustedKeys: ReadonlyArray<TrustedKeyInput | PublicKeyInput>;
  /** The device's vendor ID (16 bytes or UUID text). The manifest must check it. */
  vendorId?: Uint8Array | string;
  /** The device's class ID (16 bytes or UUID text). The manifest must check it. */
  classId?: Uint8Array | string;
  /**
   * Sequence number of the manifest the device runs now: a manifest is accepted only when its
   * own number is strictly greater (ERR_SUIT_ROLLBACK otherwise). Leave out to skip the check
   * (server-side inspection).
   */
  minSequence?: number;
  limits?: DecodeLimits;
}

export interface VerifiedManifest {
  sequenceNumber: number;
  /** The authenticated SHA-256 of the bstr-wrapped manifest. */
  manifestDigest: Uint8Array;
  signature: BlockVerification;
  components: Uint8Array[][];
  vendorId: Uint8Array | undefined;
  classId: Uint8Array | undefined;
  /** Parameters of component 0 after the shared sequence's top-level overrides. */
  image: { digest: SuitDigest | undefined; size: number | undefined };
  uri: string | undefined;
  /** bstr .cbor SUIT_Encryption_Info, when the payload is encrypted. */
  encryptionInfo: Uint8Array | undefined;
  /** Present when the payload is a delta (rootline extension, labels.ts). */
  delta: { baseDigest: SuitDigest; baseSize: number | undefined; format: number } | undefined;
  /** component-version text (draft §8.4.4), the semantic version for rootline manifests. */
  version: string | undefined;
  manifest: SuitManifest;
  manifestBytes: Uint8Array;
}

/** Verifies an envelope and returns its typed view; see the module comment for the order. */
export async function verifyManifest(envelopeBytes: Uint8Array, options: VerifyManifestOptions): Promise<VerifiedManifest> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', `expected an object, got ${describeType(options)}`);
  const keys = prepareTrustedKeys(options.trustedKeys);
  const vendorId = options.vendorId === undefined ? undefined : toUuidBytes(options.vendorId, 'options.vendorId');
  const classId = options.classId === undefined ? undefined : toUuidBytes(options.classId, 'options.classId');
  if (options.minSequence !== undefined) assertInteger(options.minSequence, 'options.minSequence', 0);

  const envelope = decodeEnvelope(envelopeBytes, options.limits);
  const { authentication } = envelope;
  assertSupportedDigest(authentication.digest, 'authentication wrapper');
  // The signature covers the digest, the digest covers the manifest: a manifest with any other
  // bytes than the signed ones is not authenticated, whatever the signature says.
  const manifestDigest = wrappedDigestOf(envelope.manifestBytes).bytes;
  if (!digestMatches(authentication.digest, manifestDigest)) throw new SuitBadSignatureError('the authenticated digest does not cover this manifest');
  if (authentication.blocks.length === 0) throw new SuitUnknownKeyError('the envelope carries no signature');
  const signature = await firstVerifiedBlock(authentication.blocks, authentication.digestBytes, keys);

  const manifest = decodeManifest(envelope.manifestBytes, options.limits);
  if (options.minSequence !== undefined && !(manifest.sequenceNumber > options.minSequence)) {
    throw new SuitRollbackError(manifest.sequenceNumber, options.minSequence);
  }
  const severed = checkSevered(manifest, envelope.severed);
  const state = sharedParameters(manifest);
  if (vendorId !== undefined) checkIdentity(state, Condition.vendorIdentifier, 'vendor', vendorId);
  if (classId !== undefined) checkIdentity(state, Condition.classIdentifier, 'class', classId);
  return buildView(manifest, severed, envelope.manifestBytes, manifestDigest, signature, state, options.limits);
}

async function firstVerifiedBlock(blocks: readonly Uint8Array[], digestBytes: Uint8Array, keys: Parameters<typeof verifyAuthenticationBlock>[2]): Promise<BlockVerification> {
  let failure: SuitError | undefined;
  for (const block of blocks) {
    try {
      return await verifyAuthenticationBlock(block, digestBytes, keys);
    } catch (err) {
      if (!(err instanceof SuitError)) throw err;
      // A bad signature outranks "unknown key": report the more alarming finding.
      if (failure === undefined || err.code === 'ERR_SUIT_BAD_SIGNATURE') failure = err;
    }
  }
  throw failure!;
}

/** Checks the severed members the envelope carries; returns the verified ones by label. */
function checkSevered(manifest: SuitManifest, severed: Map<number, Uint8Array>): Map<number, Uint8Array> {
  const verified = new Map<number, Uint8Array>();
  const members: Array<[number, { severed: boolean; digest?: SuitDigest } | undefined]> = [
    [ManifestKey.install, manifest.install],
    [ManifestKey.payloadFetch, manifest.payloadFetch],
    [ManifestKey.text, manifest.text],
  ];
  for (const [key, member] of members) {
    const carried = severed.get(key);
    if (member === undefined || !member.severed) {
      if (carried !== undefined) throw new SuitMalformedError(`severed member ${key} is not announced by the manifest`);
      continue;
    }
    // A severed member absent from the envelope is allowed (it was stripped on the way); one
    // that is present must match the digest the signed manifest holds for it.
    if (carried !== undefined) {
      assertSupportedDigest(member.digest!, `severed member ${key}`);
      if (!digestMatches(member.digest!, wrappedDigestOf(carried).bytes)) throw new SuitBadSignatureError(`severed member ${key} does not match its digest in the manifest`);
      verified.set(key, carried);
    }
  }
  return verified;
}

interface SharedState {
  /** Parameters per component index after the top level of the shared sequence. */
  params: Map<number, SuitParameters['raw']>;
  typed: Map<number, Omit<SuitParameters, 'raw'>>;
  /** Conditions evaluated at top level, with the component indices they apply to. */
  conditions: Array<{ code: number; components: number[] }>;
}

/**
 * Walks the top level of the shared sequence the way a manifest processor would: override
 * parameters land on the selected components, conditions are recorded with the components they
 * run on. Nested try-each branches are alternatives and are not folded into this view.
 */
function sharedParameters(manifest: SuitManifest): SharedState {
  const n = manifest.components.length;
  const state: SharedState = { params: new Map(), typed: new Map(), conditions: [] };
  let selected = [0];
  const apply = (commands: SuitCommand[]): void => {
    for (const c of commands) {
      if (c.kind === 'component-index') {
        const idx = c.index === true ? [...Array(n).keys()] : Array.isArray(c.index) ? c.index : [c.index];
        if (idx.some((i) => i >= n)) throw new SuitMalformedError(`component index ${idx.join(',')} is out of range (${n} components)`);
        selected = idx;
      } else if (c.kind === 'parameters') {
        for (const i of selected) {
          const raw = state.params.get(i) ?? new Map();
          const typed = state.typed.get(i) ?? {};
          // set-parameters (19) keeps values already set; override (20) replaces them (draft §8.4.10.3/4).
          for (const [k, v] of c.parameters.raw) if (c.code === Directive.overrideParameters || !raw.has(k)) raw.set(k, v);
          for (const [k, v] of Object.entries(c.parameters)) {
            if (k === 'raw' || v === undefined) continue;
            if (c.code === Directive.overrideParameters || (typed as Record<string, unknown>)[k] === undefined) (typed as Record<string, unknown>)[k] = v;
          }
          state.params.set(i, raw);
          state.typed.set(i, typed);
        }
      } else if (c.kind === 'run-sequence') {
        apply(c.commands);
      } else if (c.kind === 'command' && c.code !== Directive.tryEach) {
        state.conditions.push({ code: c.code, components: [...selected] });
      }
    }
  };
  apply(manifest.sharedSequence);
  return state;
}

function checkIdentity(state: SharedState, condition: number, what: 'vendor' | 'class', expected: Uint8Array): void {
  const ran = state.conditions.filter((c) => c.code === condition);
  // A manifest that never checks the identity could be installed on any device: refuse it.
  if (ran.length === 0) throw new SuitWrongClassError(`the manifest does not check the ${what} identifier`);
  for (const c of ran) {
    for (const i of c.components) {
      const value = what === 'vendor' ? state.typed.get(i)?.vendorId : state.typed.get(i)?.classId;
      if (value === undefined) throw new SuitWrongClassError(`the ${what} identifier condition has no ${what} ID parameter`);
      if (Buffer.compare(value, expected) !== 0) throw new SuitWrongClassError(`the manifest is for ${what} ${toHex(value)}, not ${toHex(expected)}`);
    }
  }
}

function buildView(
  manifest: SuitManifest,
  severed: Map<number, Uint8Array>,
  manifestBytes: Uint8Array,
  manifestDigest: Uint8Array,
  signature: BlockVerification,
  state: SharedState,
  limits: DecodeLimits | undefined,
): VerifiedManifest {
  const p0 = state.typed.get(0) ?? {};
  let uri: string | undefined;
  let encryptionInfo: Uint8Array | undefined;
  // Severed members count only once their digest matched (checkSevered); otherwise they are absent.
  const severedInstall = severed.get(ManifestKey.install);
  const install = manifest.install === undefined ? undefined : !manifest.install.severed ? manifest.install.commands : severedInstall === undefined ? undefined : decodeSeveredSequence(severedInstall, 'install', limits);
  if (install !== undefined) {
    for (const c of install) {
      if (c.kind === 'parameters') {
        uri = c.parameters.uri ?? uri;
        encryptionInfo = c.parameters.encryptionInfo ?? encryptionInfo;
      }
    }
  }
  let delta: VerifiedManifest['delta'];
  if (p0.baseImageDigest !== undefined) {
    // The base digest without its condition would describe a check nobody runs: malformed.
    if (!state.conditions.some((c) => c.code === RootlineCondition.baseImageMatch)) throw new SuitMalformedError('delta base digest given without the base-image condition');
    assertSupportedDigest(p0.baseImageDigest, 'base image digest');
    delta = { baseDigest: p0.baseImageDigest, baseSize: p0.baseImageSize, format: p0.payloadFormat ?? PayloadFormat.deltaV1 };
  }
  let version: string | undefined;
  const severedText = severed.get(ManifestKey.text);
  const text = manifest.text === undefined ? undefined : !manifest.text.severed ? manifest.text.text : severedText === undefined ? undefined : decodeText(severedText);
  if (text !== undefined) {
    const first = manifest.components[0]!;
    for (const block of text) {
      const entry = block.components.find((c) => c.component.length === first.length && c.component.every((p, i) => Buffer.compare(p, first[i]!) === 0));
      version ??= entry?.text.get(ComponentTextKey.componentVersion);
    }
  }
  return {
    sequenceNumber: manifest.sequenceNumber,
    manifestDigest,
    signature,
    components: manifest.components,
    vendorId: p0.vendorId,
    classId: p0.classId,
    image: { digest: p0.imageDigest, size: p0.imageSize },
    uri,
    encryptionInfo,
    delta,
    version,
    manifest,
    manifestBytes,
  };
}

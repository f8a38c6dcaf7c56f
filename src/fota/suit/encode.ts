/**
 * Builds rootline's SUIT manifests (draft-ietf-suit-manifest, RFC 9124 information model) and
 * envelopes. One component per manifest; the shared sequence carries the identity checks and
 * the image parameters, so a device can decide applicability before fetching anything:
 *
 *   common.shared-sequence: override-parameters { vendor-id, class-id, image-digest, image-size
 *                             [, -24 base-image-digest, -25 base-image-size, -26 payload-format] },
 *                           condition-vendor-identifier, condition-class-identifier
 *                           [, condition -24 base-image-match]
 *   install:  override-parameters { uri [, encryption-info] }, fetch, condition-image-match
 *   validate: condition-image-match
 *   invoke:   directive-invoke
 *   text:     { [component]: { vendor-name, model-name, component-version } }
 *
 * Encoding is deterministic (RFC 8949 §4.2.1), so the same input gives the same manifest bytes.
 */
import { encodeCbor, CborTag } from '../../cose/cbor.js';
import { InvalidArgumentError } from '../../errors.js';
import { assertBytes, assertInteger, assertString } from '../../util/assert.js';
import { encodeDigest, type SuitDigest } from './digest.js';
import {
  ComponentTextKey,
  CommonKey,
  Condition,
  Directive,
  EnvelopeKey,
  ManifestKey,
  Parameter,
  PayloadFormat,
  REPORT_ALL,
  RootlineCondition,
  RootlineParameter,
  SHA256_ALG,
  SUIT_ENVELOPE_TAG,
  TextKey,
} from './labels.js';

export interface ManifestInput {
  sequenceNumber: number;
  vendorId: Uint8Array;
  classId: Uint8Array;
  /** SHA-256 of the image as installed (after delta apply and decryption). */
  imageDigest: Uint8Array;
  imageSize: number;
  /** Where the device fetches the payload; may be left out and supplied by the delivery driver. */
  uri?: string;
  /** Component identifier (default [h'00'], as the draft's single-component examples). */
  componentId?: Uint8Array[];
  /** bstr .cbor SUIT_Encryption_Info from encryptPayload(). */
  encryptionInfo?: Uint8Array;
  /** For a delta payload: the image it applies to. */
  delta?: { baseImageDigest: Uint8Array; baseImageSize: number };
  text?: { vendorName?: string; modelName?: string; version?: string; description?: string };
}

function sha256Digest(bytes: Uint8Array): SuitDigest {
  return { alg: SHA256_ALG, bytes };
}

function sequence(...commands: Array<[number, unknown]>): Uint8Array {
  return encodeCbor(commands.flat());
}

function assertManifestInput(input: ManifestInput): void {
  if (typeof input !== 'object' || input === null) throw new InvalidArgumentError('input', 'expected an object');
  assertInteger(input.sequenceNumber, 'input.sequenceNumber', 0);
  assertBytes(input.vendorId, 'input.vendorId', { len: 16 });
  assertBytes(input.classId, 'input.classId', { len: 16 });
  assertBytes(input.imageDigest, 'input.imageDigest', { len: 32 });
  assertInteger(input.imageSize, 'input.imageSize', 0);
  if (input.uri !== undefined) assertString(input.uri, 'input.uri', { max: 2048 });
  if (input.componentId !== undefined) {
    if (!Array.isArray(input.componentId) || input.componentId.length === 0 || input.componentId.length > 16) {
      throw new InvalidArgumentError('input.componentId', 'expected 1..16 byte strings');
    }
    input.componentId.forEach((p, i) => assertBytes(p, `input.componentId[${i}]`, { max: 64 }));
  }
  if (input.encryptionInfo !== undefined) assertBytes(input.encryptionInfo, 'input.encryptionInfo', { min: 1, max: 4096 });
  if (input.delta !== undefined) {
    if (typeof input.delta !== 'object' || input.delta === null) throw new InvalidArgumentError('input.delta', 'expected an object');
    assertBytes(input.delta.baseImageDigest, 'input.delta.baseImageDigest', { len: 32 });
    assertInteger(input.delta.baseImageSize, 'input.delta.baseImageSize', 0);
  }
  if (input.text !== undefined) {
    for (const k of ['vendorName', 'modelName', 'version', 'description'] as const) {
      if (input.text[k] !== undefined) assertString(input.text[k], `input.text.${k}`, { max: 1024 });
    }
  }
}

/** Encodes the SUIT_Manifest bytes (what the authentication wrapper's digest covers). */
export function encodeManifest(input: ManifestInput): Uint8Array {
  assertManifestInput(input);
  const component = input.componentId ?? [Uint8Array.of(0)];
  const params = new Map<number, unknown>([
    [Parameter.vendorId, input.vendorId],
    [Parameter.classId, input.classId],
    [Parameter.imageDigest, encodeDigest(sha256Digest(input.imageDigest))],
    [Parameter.imageSize, input.imageSize],
  ]);
  const shared: Array<[number, unknown]> = [
    [Directive.overrideParameters, params],
    [Condition.vendorIdentifier, REPORT_ALL],
    [Condition.classIdentifier, REPORT_ALL],
  ];
  if (input.delta !== undefined) {
    params.set(RootlineParameter.baseImageDigest, encodeDigest(sha256Digest(input.delta.baseImageDigest)));
    params.set(RootlineParameter.baseImageSize, input.delta.baseImageSize);
    params.set(RootlineParameter.payloadFormat, PayloadFormat.deltaV1);
    shared.push([RootlineCondition.baseImageMatch, REPORT_ALL]);
  }
  const installParams = new Map<number, unknown>();
  if (input.uri !== undefined) installParams.set(Parameter.uri, input.uri);
  if (input.encryptionInfo !== undefined) installParams.set(Parameter.encryptionInfo, input.encryptionInfo);
  const install: Array<[number, unknown]> = [];
  if (installParams.size > 0) install.push([Directive.overrideParameters, installParams]);
  install.push([Directive.fetch, REPORT_ALL], [Condition.imageMatch, REPORT_ALL]);

  const manifest = new Map<number, unknown>([
    [ManifestKey.version, 1],
    [ManifestKey.sequenceNumber, input.sequenceNumber],
    [ManifestKey.common, encodeCbor(new Map<number, unknown>([[CommonKey.components, [component]], [CommonKey.sharedSequence, sequence(...shared)]]))],
    [ManifestKey.validate, sequence([Condition.imageMatch, REPORT_ALL])],
    [ManifestKey.invoke, sequence([Directive.invoke, REPORT_ALL])],
    [ManifestKey.install, sequence(...install)],
  ]);
  const text = encodeText(component, input.text);
  if (text !== undefined) manifest.set(ManifestKey.text, text);
  return encodeCbor(manifest);
}

function encodeText(component: Uint8Array[], text: ManifestInput['text']): Uint8Array | undefined {
  if (text === undefined) return undefined;
  const entries = new Map<number, string>();
  if (text.vendorName !== undefined) entries.set(ComponentTextKey.vendorName, text.vendorName);
  if (text.modelName !== undefined) entries.set(ComponentTextKey.modelName, text.modelName);
  if (text.version !== undefined) entries.set(ComponentTextKey.componentVersion, text.version);
  const lmap = new Map<unknown, unknown>();
  if (text.description !== undefined) lmap.set(TextKey.manifestDescription, text.description);
  if (entries.size > 0) lmap.set(component, entries);
  // SUIT_Text_Map is keyed by language tag in the current drafts; rootline writes English.
  return lmap.size === 0 ? undefined : encodeCbor(new Map([['en', lmap]]));
}

/** Assembles SUIT_Envelope_Tagged from the manifest bytes and the authentication wrapper. */
export function encodeEnvelope(manifestBytes: Uint8Array, digestBytes: Uint8Array, blocks: readonly Uint8Array[]): Uint8Array {
  assertBytes(manifestBytes, 'manifestBytes', { min: 1 });
  assertBytes(digestBytes, 'digestBytes', { min: 1 });
  const wrapper = encodeCbor([digestBytes, ...blocks]);
  return encodeCbor(new CborTag(SUIT_ENVELOPE_TAG, new Map<number, unknown>([[EnvelopeKey.authenticationWrapper, wrapper], [EnvelopeKey.manifest, manifestBytes]])));
}

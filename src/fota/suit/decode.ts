/**
 * Pure decoders for SUIT_Envelope and SUIT_Manifest (draft-ietf-suit-manifest §8). Bytes in,
 * typed structures out, no keys and no policy: verify.ts authenticates the envelope before it
 * decodes the manifest, as the draft's processing model requires (authenticate first, then parse).
 *
 * Every failure is a SuitError (ERR_SUIT_MALFORMED / ERR_SUIT_UNSUPPORTED); limits bound the
 * work a hostile envelope can cause.
 */
import { CborTag, decodeCbor } from '../../cose/cbor.js';
import { assertInteger } from '../../util/assert.js';
import { InvalidArgumentError } from '../../errors.js';
import { asBytes, asMap, asText, asUint, decodeNested } from './cbor-util.js';
import { digestFromValue, type SuitDigest } from './digest.js';
import { SuitMalformedError, SuitUnsupportedError } from './errors.js';
import { CommonKey, Directive, EnvelopeKey, ManifestKey, Parameter, RootlineParameter, SEVERABLE_KEYS, SUIT_ENVELOPE_TAG } from './labels.js';

export interface DecodeLimits {
  /** Largest envelope accepted, bytes (default 256 KiB; integrated payloads count). */
  maxEnvelopeSize?: number;
  /** Most commands in one sequence, nested ones included (default 256). */
  maxCommands?: number;
  /** Deepest try-each / run-sequence nesting (default 4). */
  maxNesting?: number;
}

const DEFAULTS = { maxEnvelopeSize: 256 * 1024, maxCommands: 256, maxNesting: 4 };

export interface SuitAuthenticationWrapper {
  /** The SUIT_Digest of the manifest, as signed. */
  digest: SuitDigest;
  /** Its encoded bytes: the detached payload of every COSE_Sign1 block. */
  digestBytes: Uint8Array;
  /** bstr .cbor SUIT_Authentication_Block, each a COSE_Sign1 (or COSE_Mac0) message. */
  blocks: Uint8Array[];
}

export interface SuitEnvelope {
  tagged: boolean;
  authentication: SuitAuthenticationWrapper;
  /** The bstr-wrapped manifest's bytes: what the digest covers. */
  manifestBytes: Uint8Array;
  /** Severed members carried beside the manifest (install, payload-fetch, text), by label. */
  severed: Map<number, Uint8Array>;
  /** Integrated payloads by their tstr key (draft §7.5). */
  integratedPayloads: Map<string, Uint8Array>;
}

export interface SuitParameters {
  vendorId?: Uint8Array;
  classId?: Uint8Array;
  imageDigest?: SuitDigest;
  imageSize?: number;
  componentSlot?: number;
  uri?: string;
  sourceComponent?: number;
  /** bstr .cbor SUIT_Encryption_Info (a COSE_Encrypt0 with detached ciphertext here). */
  encryptionInfo?: Uint8Array;
  /** rootline delta extension (labels.ts): digest and size of the base image, payload format. */
  baseImageDigest?: SuitDigest;
  baseImageSize?: number;
  payloadFormat?: number;
  /** Every parameter by label, typed ones included, as decoded. */
  raw: Map<number, unknown>;
}

export type SuitCommand =
  | { code: 12; kind: 'component-index'; index: number | true | number[] }
  | { code: 19 | 20; kind: 'parameters'; parameters: SuitParameters }
  | { code: 15; kind: 'try-each'; sequences: SuitCommand[][] }
  | { code: 32; kind: 'run-sequence'; commands: SuitCommand[] }
  /** Conditions and the other directives: the argument is a report policy (or unused). */
  | { code: number; kind: 'command'; argument: unknown };

export type SuitSequenceMember = { severed: false; bytes: Uint8Array; commands: SuitCommand[] } | { severed: true; digest: SuitDigest };

/** One language's text (SUIT_Text_LMap); `language` is the tag (undefined in pre-language drafts). */
export interface SuitTextBlock {
  language: string | undefined;
  manifest: Map<number, string>;
  components: Array<{ component: Uint8Array[]; text: Map<number, string> }>;
}

export type SuitText = SuitTextBlock[];

export type SuitTextMember = { severed: false; bytes: Uint8Array; text: SuitText } | { severed: true; digest: SuitDigest };

export interface SuitManifest {
  version: number;
  sequenceNumber: number;
  components: Uint8Array[][];
  sharedSequence: SuitCommand[];
  referenceUri?: string;
  validate?: SuitCommand[];
  load?: SuitCommand[];
  invoke?: SuitCommand[];
  payloadFetch?: SuitSequenceMember;
  install?: SuitSequenceMember;
  text?: SuitTextMember;
}

function limitsOf(options: DecodeLimits | undefined): Required<DecodeLimits> {
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw new InvalidArgumentError('options', 'expected an object');
  const l = { ...DEFAULTS, ...options };
  assertInteger(l.maxEnvelopeSize, 'options.maxEnvelopeSize', 1, 64 * 1024 * 1024);
  assertInteger(l.maxCommands, 'options.maxCommands', 1, 65536);
  assertInteger(l.maxNesting, 'options.maxNesting', 0, 16);
  return l;
}

/** Decodes a SUIT_Envelope (tag 107 or untagged) without authenticating it. */
export function decodeEnvelope(bytes: Uint8Array, options?: DecodeLimits): SuitEnvelope {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('bytes', 'expected a Uint8Array');
  const limits = limitsOf(options);
  if (bytes.length > limits.maxEnvelopeSize) throw new SuitMalformedError(`envelope is ${bytes.length} bytes, over the ${limits.maxEnvelopeSize}-byte limit`);
  let value: unknown;
  try {
    value = decodeCbor(bytes, { maxDepth: 8 });
  } catch (err) {
    throw new SuitMalformedError(`envelope: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  let tagged = false;
  if (value instanceof CborTag) {
    if (value.tag !== SUIT_ENVELOPE_TAG) throw new SuitMalformedError(`envelope: CBOR tag ${String(value.tag)} is not SUIT_Envelope (107)`);
    tagged = true;
    value = value.contents;
  }
  const map = asMap(value, 'envelope');
  const wrapperBytes = map.get(EnvelopeKey.authenticationWrapper);
  if (wrapperBytes === undefined) throw new SuitMalformedError('envelope: no authentication wrapper');
  const authentication = decodeAuthenticationWrapper(asBytes(wrapperBytes, 'envelope authentication wrapper'));
  const manifestBytes = map.get(EnvelopeKey.manifest);
  if (manifestBytes === undefined) throw new SuitMalformedError('envelope: no manifest');
  const severed = new Map<number, Uint8Array>();
  const integratedPayloads = new Map<string, Uint8Array>();
  for (const [key, member] of map) {
    if (key === EnvelopeKey.authenticationWrapper || key === EnvelopeKey.manifest) continue;
    if (typeof key === 'string') integratedPayloads.set(key, asBytes(member, `integrated payload ${JSON.stringify(key)}`));
    else if (typeof key === 'number' && SEVERABLE_KEYS.includes(key)) severed.set(key, asBytes(member, `severed member ${key}`));
    else if (typeof key === 'number' && Number.isSafeInteger(key)) continue; // extensions (e.g. delegation, 1) are not processed here
    else throw new SuitMalformedError('envelope: keys must be integers or text');
  }
  return { tagged, authentication, manifestBytes: asBytes(manifestBytes, 'envelope manifest'), severed, integratedPayloads };
}

function decodeAuthenticationWrapper(bytes: Uint8Array): SuitAuthenticationWrapper {
  const value = decodeNested(bytes, 'authentication wrapper');
  // SUIT_Authentication = [ bstr .cbor SUIT_Digest, * bstr .cbor SUIT_Authentication_Block ]
  if (!Array.isArray(value) || value.length < 1) throw new SuitMalformedError('authentication wrapper: expected [digest, blocks...]');
  const [first, ...rest] = value as unknown[];
  const digestBytes = asBytes(first, 'authentication wrapper digest');
  const digest = digestFromValue(decodeNested(digestBytes, 'authentication wrapper digest'), 'authentication wrapper digest');
  if (rest.length > 16) throw new SuitMalformedError('authentication wrapper: more than 16 authentication blocks');
  const blocks = rest.map((b, i) => asBytes(b, `authentication block ${i}`));
  return { digest, digestBytes, blocks };
}

/** Decodes the manifest bytes of an (already authenticated) envelope. */
export function decodeManifest(bytes: Uint8Array, options?: DecodeLimits): SuitManifest {
  const limits = limitsOf(options);
  const map = asMap(decodeNested(asBytes(bytes, 'manifest'), 'manifest'), 'manifest');
  const version = asUint(map.get(ManifestKey.version), 'manifest version');
  // draft §8.4.1: the manifest version is 1; anything else is a format this decoder does not know.
  if (version !== 1) throw new SuitUnsupportedError(`manifest version ${version} is not supported`);
  const sequenceNumber = asUint(map.get(ManifestKey.sequenceNumber), 'manifest sequence number');
  const common = asMap(decodeNested(asBytes(map.get(ManifestKey.common), 'manifest common'), 'manifest common'), 'manifest common');
  const components = decodeComponents(common.get(CommonKey.components));
  const counter = { left: limits.maxCommands };
  const shared = common.get(CommonKey.sharedSequence);
  const sharedSequence = shared === undefined ? [] : decodeSequenceBytes(asBytes(shared, 'shared sequence'), 'shared sequence', limits, counter, 0);
  const out: SuitManifest = { version, sequenceNumber, components, sharedSequence };
  const ref = map.get(ManifestKey.referenceUri);
  if (ref !== undefined) out.referenceUri = asText(ref, 'reference URI');
  const plain = (key: number, name: string): SuitCommand[] | undefined => {
    const v = map.get(key);
    return v === undefined ? undefined : decodeSequenceBytes(asBytes(v, name), name, limits, counter, 0);
  };
  const validate = plain(ManifestKey.validate, 'validate');
  if (validate !== undefined) out.validate = validate;
  const load = plain(ManifestKey.load, 'load');
  if (load !== undefined) out.load = load;
  const invoke = plain(ManifestKey.invoke, 'invoke');
  if (invoke !== undefined) out.invoke = invoke;
  const severable = (key: number, name: string): SuitSequenceMember | undefined => {
    const v = map.get(key);
    if (v === undefined) return undefined;
    // SUIT_Severable_Member: either the bstr-wrapped content or the SUIT_Digest of it.
    if (Array.isArray(v)) return { severed: true, digest: digestFromValue(v, name) };
    const b = asBytes(v, name);
    return { severed: false, bytes: b, commands: decodeSequenceBytes(b, name, limits, counter, 0) };
  };
  const install = severable(ManifestKey.install, 'install');
  if (install !== undefined) out.install = install;
  const fetch = severable(ManifestKey.payloadFetch, 'payload fetch');
  if (fetch !== undefined) out.payloadFetch = fetch;
  const text = map.get(ManifestKey.text);
  if (text !== undefined) {
    if (Array.isArray(text)) out.text = { severed: true, digest: digestFromValue(text, 'text') };
    else {
      const b = asBytes(text, 'text');
      out.text = { severed: false, bytes: b, text: decodeText(b) };
    }
  }
  return out;
}

function decodeComponents(value: unknown): Uint8Array[][] {
  if (!Array.isArray(value) || value.length === 0) throw new SuitMalformedError('components: expected a non-empty array');
  if (value.length > 64) throw new SuitMalformedError('components: more than 64');
  return value.map((id, i) => decodeComponentId(id, `component ${i}`));
}

function decodeComponentId(value: unknown, where: string): Uint8Array[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 16) throw new SuitMalformedError(`${where}: identifier must be an array of 1..16 bstr`);
  return value.map((p) => asBytes(p, where));
}

/** Decodes the bytes of a SUIT_Command_Sequence (bstr .cbor [+ command, argument]). */
export function decodeSequenceBytes(bytes: Uint8Array, where: string, limits: Required<DecodeLimits>, counter: { left: number }, depth: number): SuitCommand[] {
  const value = decodeNested(bytes, where);
  if (!Array.isArray(value) || value.length === 0 || value.length % 2 !== 0) {
    throw new SuitMalformedError(`${where}: a command sequence is a non-empty array of (command, argument) pairs`);
  }
  const commands: SuitCommand[] = [];
  for (let i = 0; i < value.length; i += 2) {
    if (--counter.left < 0) throw new SuitMalformedError(`${where}: more than ${limits.maxCommands} commands`);
    commands.push(decodeCommand(value[i], value[i + 1], `${where} command ${i / 2}`, limits, counter, depth));
  }
  return commands;
}

function decodeCommand(code: unknown, arg: unknown, where: string, limits: Required<DecodeLimits>, counter: { left: number }, depth: number): SuitCommand {
  if (typeof code !== 'number' || !Number.isSafeInteger(code)) throw new SuitMalformedError(`${where}: command must be an integer`);
  switch (code) {
    case Directive.setComponentIndex: {
      if (arg === true) return { code, kind: 'component-index', index: true };
      if (Array.isArray(arg)) return { code, kind: 'component-index', index: arg.map((a) => asUint(a, where)) };
      return { code, kind: 'component-index', index: asUint(arg, where) };
    }
    case 19:
    case Directive.overrideParameters:
      return { code, kind: 'parameters', parameters: decodeParameters(arg, where) };
    case Directive.tryEach:
    case Directive.runSequence: {
      if (depth >= limits.maxNesting) throw new SuitMalformedError(`${where}: sequences nested deeper than ${limits.maxNesting}`);
      if (code === Directive.runSequence) return { code, kind: 'run-sequence', commands: decodeSequenceBytes(asBytes(arg, where), where, limits, counter, depth + 1) };
      if (!Array.isArray(arg) || arg.length === 0) throw new SuitMalformedError(`${where}: try-each takes a non-empty array of sequences`);
      // A nil last entry means "no sequence succeeded is not an error" (draft §8.4.10.2).
      const sequences = arg.filter((s, i) => !(s === null && i === arg.length - 1)).map((s, i) => decodeSequenceBytes(asBytes(s, `${where} branch ${i}`), `${where} branch ${i}`, limits, counter, depth + 1));
      return { code, kind: 'try-each', sequences };
    }
    default:
      return { code, kind: 'command', argument: arg };
  }
}

function decodeParameters(value: unknown, where: string): SuitParameters {
  const map = asMap(value, `${where} parameters`);
  const p: SuitParameters = { raw: new Map() };
  for (const [key, v] of map) {
    if (typeof key !== 'number' || !Number.isSafeInteger(key)) throw new SuitMalformedError(`${where}: parameter labels are integers`);
    p.raw.set(key, v);
    const w = `${where} parameter ${key}`;
    switch (key) {
      case Parameter.vendorId:
        p.vendorId = asBytes(v, w);
        break;
      case Parameter.classId:
        p.classId = asBytes(v, w);
        break;
      case Parameter.imageDigest:
        p.imageDigest = digestFromValue(decodeNested(asBytes(v, w), w), w);
        break;
      case Parameter.imageSize:
        p.imageSize = asUint(v, w);
        break;
      case Parameter.componentSlot:
        p.componentSlot = asUint(v, w);
        break;
      case Parameter.uri:
        p.uri = asText(v, w);
        break;
      case Parameter.sourceComponent:
        p.sourceComponent = asUint(v, w);
        break;
      case Parameter.encryptionInfo:
        p.encryptionInfo = asBytes(v, w);
        break;
      case RootlineParameter.baseImageDigest:
        p.baseImageDigest = digestFromValue(decodeNested(asBytes(v, w), w), w);
        break;
      case RootlineParameter.baseImageSize:
        p.baseImageSize = asUint(v, w);
        break;
      case RootlineParameter.payloadFormat:
        p.payloadFormat = asUint(v, w);
        break;
      default:
        break; // other parameters are kept in `raw` only
    }
  }
  return p;
}

/**
 * SUIT_Text_Map: current drafts key it by language tag ({ "en-US": SUIT_Text_LMap }); earlier
 * ones used the LMap directly. Both are read; a map mixing the two forms is malformed.
 */
export function decodeText(bytes: Uint8Array): SuitText {
  const map = asMap(decodeNested(bytes, 'text'), 'text');
  const keys = [...map.keys()];
  if (keys.length > 0 && keys.every((k) => typeof k === 'string')) {
    return [...map].map(([language, lmap]) => decodeTextBlock(asMap(lmap, `text ${String(language)}`), language as string));
  }
  if (keys.some((k) => typeof k === 'string')) throw new SuitMalformedError('text: language tags mixed with text keys');
  return [decodeTextBlock(map, undefined)];
}

function decodeTextBlock(map: Map<unknown, unknown>, language: string | undefined): SuitTextBlock {
  const block: SuitTextBlock = { language, manifest: new Map(), components: [] };
  for (const [key, v] of map) {
    if (typeof key === 'number') block.manifest.set(key, asText(v, `text ${key}`));
    else if (Array.isArray(key)) {
      const entries = new Map<number, string>();
      for (const [k, t] of asMap(v, 'component text')) {
        if (typeof k !== 'number') throw new SuitMalformedError('component text: labels are integers');
        entries.set(k, asText(t, `component text ${k}`));
      }
      block.components.push({ component: decodeComponentId(key, 'text component'), text: entries });
    } else throw new SuitMalformedError('text: keys are integers or component identifiers');
  }
  return block;
}

/** Decodes a severed member's bytes once its digest has been checked (verify.ts). */
export function decodeSeveredSequence(bytes: Uint8Array, where: string, options?: DecodeLimits): SuitCommand[] {
  const limits = limitsOf(options);
  return decodeSequenceBytes(bytes, where, limits, { left: limits.maxCommands }, 0);
}

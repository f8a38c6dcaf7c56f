/**
 * The PKCS#11 KeyStore: keys are created inside a token (an HSM, a smart card, SoftHSM2) as
 * sensitive, non-extractable objects and only ever used there. What leaves the token: public
 * keys, signatures, MACs, AEAD output, and ECDH shared secrets (the interface returns those).
 *
 * Per key the token holds, all with CKA_LABEL = label and one random CKA_ID:
 *  - the key object(s): a private/public pair (ec-p256, ed25519) or one secret key;
 *  - a private CKO_DATA object (CKA_APPLICATION "rootline-keystore") recording the type and
 *    creation time, which is what listKeys() enumerates.
 *
 * Mechanisms: CKM_ECDSA over a SHA-256 digest computed here (signature is raw r||s already),
 * CKM_EDDSA (pure Ed25519), CKM_ECDH1_DERIVE into a short-lived session object, CKM_SHA256_HMAC,
 * CKM_AES_GCM, and CCM built on the token's CKM_AES_ECB/CKM_AES_CBC (ccm-blocks.ts).
 *
 * pkcs11js calls are synchronous, so each operation's call sequence runs without interleaving.
 */
import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { InvalidArgumentError, RootlineError } from '../../errors.js';
import { assertBytes, assertInteger, assertString } from '../../util/assert.js';
import { ccmOpen, ccmSeal, type AesBlockOps } from './ccm-blocks.js';
import {
  AeadAuthFailedError,
  KeyNotFoundError,
  KeyStoreClosedError,
  KeyStoreCorruptError,
  KeyStoreUnsupportedError,
  LabelExistsError,
  Pkcs11Error,
} from './errors.js';
import { ED25519_OID_DER, P256_OID_DER, ecPoint, octetString, parsePeerP256, parsePkcs8, rawKeyParts, spkiFromPoint } from './key-material.js';
import {
  CKK_EC_EDWARDS,
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
  CKM_EDDSA,
  acquireModule,
  ckrName,
  pinMatchesLogin,
  pkcs11js as P,
  releaseModule,
  rememberLogin,
  slotIdOf,
  wrapPkcs11,
  type Handle,
  type Pkcs11,
} from './pkcs11-module.js';
import type { KeyInfo, KeyStore, KeyStoreAeadAlgorithm, KeyType } from './types.js';
import { assertKeyType, assertLabel, checkAeadArgs, isAsymmetric, requireKeyType, secretLengthRule } from './validate.js';

export interface Pkcs11KeyStoreOptions {
  /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  module: string;
  /** The token's slot ID (as `softhsm2-util --show-slots` prints it); or give `tokenLabel`. */
  slot?: number;
  /** The token's label; or give `slot`. */
  tokenLabel?: string;
  /** The user PIN. Used once to log in; not kept. */
  pin: string;
}

const APPLICATION = 'rootline-keystore';
const META_VERSION = 1;

interface Meta {
  label: string;
  type: KeyType;
  createdAt: string;
  id: Buffer;
}

/** CK_ECDH1_DERIVE_PARAMS as pkcs11js takes it (its typings only export the base shape). */
interface ECDH1Params {
  type: number;
  kdf: number;
  publicData: Buffer;
}

type Template = { type: number; value?: number | boolean | string | Buffer }[];

/** What every object of one stored key carries: on the token, under the store's label, tied together by CKA_ID. */
function keyObjectAttrs(label: string, id: Buffer): Template {
  return [
    { type: P.CKA_TOKEN, value: true },
    { type: P.CKA_LABEL, value: label },
    { type: P.CKA_ID, value: id },
  ];
}

/** Sensitive + non-extractable: the token must never reveal the value, not even wrapped. */
function secretAttrs(): Template {
  return [
    { type: P.CKA_PRIVATE, value: true },
    { type: P.CKA_SENSITIVE, value: true },
    { type: P.CKA_EXTRACTABLE, value: false },
  ];
}

/** Class, key type and uses of an AES or HMAC key; `generateLength` when the token makes the value. */
function secretKeyAttrs(type: KeyType, generateLength?: number): Template {
  const aes = type !== 'hmac-256';
  return [
    { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
    { type: P.CKA_KEY_TYPE, value: aes ? P.CKK_AES : P.CKK_GENERIC_SECRET },
    ...(generateLength === undefined ? [] : [{ type: P.CKA_VALUE_LEN, value: generateLength }]),
    ...(aes
      ? [{ type: P.CKA_ENCRYPT, value: true }, { type: P.CKA_DECRYPT, value: true }]
      : [{ type: P.CKA_SIGN, value: true }, { type: P.CKA_VERIFY, value: true }]),
  ];
}

/** Uses of a private key: signing, and ECDH for P-256. */
function privateKeyUses(ec: boolean): Template {
  return [{ type: P.CKA_SIGN, value: true }, ...(ec ? [{ type: P.CKA_DERIVE, value: true }] : [])];
}

/**
 * Opens a token as a KeyStore. Errors from the token (no such slot, wrong PIN, ...) are
 * ERR_KEYSTORE_PKCS11 with the CKR name; the PIN never appears in them.
 */
export async function openPkcs11KeyStore(options: Pkcs11KeyStoreOptions): Promise<KeyStore> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  assertString(options.module, 'module', { max: 4096 });
  assertString(options.pin, 'pin', { min: 1, max: 256 });
  if ((options.slot === undefined) === (options.tokenLabel === undefined)) {
    throw new InvalidArgumentError('options', 'give exactly one of slot and tokenLabel');
  }
  if (options.slot !== undefined) assertInteger(options.slot, 'slot', 0);
  if (options.tokenLabel !== undefined) assertString(options.tokenLabel, 'tokenLabel', { max: 32 });

  const lib = acquireModule(options.module);
  try {
    const slots = wrapPkcs11('C_GetSlotList', () => lib.C_GetSlotList(true));
    const slot = slots.find((s) =>
      options.slot !== undefined
        ? slotIdOf(s) === BigInt(options.slot)
        : wrapPkcs11('C_GetTokenInfo', () => lib.C_GetTokenInfo(s)).label.trim() === options.tokenLabel,
    );
    if (slot === undefined) {
      throw new Pkcs11Error(
        'token lookup',
        options.slot !== undefined ? `CKR_SLOT_ID_INVALID (no token in slot ${options.slot})` : `CKR_TOKEN_NOT_PRESENT (no token labelled ${JSON.stringify(options.tokenLabel)})`,
      );
    }
    const mechanisms = new Set(wrapPkcs11('C_GetMechanismList', () => lib.C_GetMechanismList(slot)));
    const session = wrapPkcs11('C_OpenSession', () => lib.C_OpenSession(slot, P.CKF_RW_SESSION | P.CKF_SERIAL_SESSION));
    const slotId = slotIdOf(slot);
    let loginError: string | undefined;
    try {
      lib.C_Login(session, P.CKU_USER, options.pin);
      rememberLogin(options.module, slotId, options.pin);
    } catch (e) {
      loginError = ckrName(e);
      if (loginError === 'CKR_USER_ALREADY_LOGGED_IN' && pinMatchesLogin(options.module, slotId, options.pin) !== false) loginError = undefined;
      else if (loginError === 'CKR_USER_ALREADY_LOGGED_IN') loginError = 'CKR_PIN_INCORRECT';
    }
    if (loginError !== undefined) {
      try {
        lib.C_CloseSession(session);
      } catch {
        // The session is useless either way.
      }
      throw new Pkcs11Error('C_Login', loginError);
    }
    return new Pkcs11KeyStore(options.module, lib, slot, session, mechanisms);
  } catch (e) {
    releaseModule(options.module);
    throw e;
  }
}

class Pkcs11KeyStore implements KeyStore {
  readonly backend = 'pkcs11' as const;
  readonly #modulePath: string;
  readonly #lib: Pkcs11;
  readonly #slot: Handle;
  #session: Handle | undefined;
  readonly #mechanisms: Set<number>;

  constructor(modulePath: string, lib: Pkcs11, slot: Handle, session: Handle, mechanisms: Set<number>) {
    this.#modulePath = modulePath;
    this.#lib = lib;
    this.#slot = slot;
    this.#session = session;
    this.#mechanisms = mechanisms;
  }

  #s(): Handle {
    if (this.#session === undefined) throw new KeyStoreClosedError();
    return this.#session;
  }

  /**
   * A failed call can leave an operation active on the session (CKR_OPERATION_ACTIVE on the next
   * *Init). Replace the session: open the new one first so the token keeps us logged in.
   */
  #resetSession(): void {
    const old = this.#session;
    if (old === undefined) return;
    try {
      this.#session = this.#lib.C_OpenSession(this.#slot, P.CKF_RW_SESSION | P.CKF_SERIAL_SESSION);
      this.#lib.C_CloseSession(old);
    } catch {
      // Keep the old session; the next call will report whatever is wrong with the token.
    }
  }

  /** Runs one token operation; on failure resets the session and throws ERR_KEYSTORE_PKCS11. */
  #op<T>(operation: string, fn: (session: Handle) => T): T {
    const session = this.#s();
    try {
      return fn(session);
    } catch (e) {
      // Our own errors are thrown before any *Init or after the operation finished, except a
      // failed GCM C_Decrypt (which the standard says terminates the operation; be safe anyway).
      if (!(e instanceof RootlineError) || e instanceof AeadAuthFailedError) this.#resetSession();
      if (e instanceof RootlineError) throw e;
      throw new Pkcs11Error(operation, ckrName(e), { cause: e });
    }
  }

  #find(session: Handle, template: Template): Handle[] {
    this.#lib.C_FindObjectsInit(session, template);
    try {
      const out: Handle[] = [];
      for (;;) {
        const batch = this.#lib.C_FindObjects(session, 64);
        out.push(...batch);
        if (batch.length < 64) return out;
      }
    } finally {
      this.#lib.C_FindObjectsFinal(session);
    }
  }

  #metaObjects(session: Handle, label?: string): Handle[] {
    const t: Template = [
      { type: P.CKA_CLASS, value: P.CKO_DATA },
      { type: P.CKA_APPLICATION, value: APPLICATION },
    ];
    if (label !== undefined) t.push({ type: P.CKA_LABEL, value: label });
    return this.#find(session, t);
  }

  #readMeta(session: Handle, handle: Handle): Meta {
    const [labelAttr, valueAttr] = this.#lib.C_GetAttributeValue(session, handle, [{ type: P.CKA_LABEL }, { type: P.CKA_VALUE }]);
    const label = labelAttr!.value.toString('utf8');
    let doc: unknown;
    try {
      doc = JSON.parse(valueAttr!.value.toString('utf8'));
    } catch {
      throw new KeyStoreCorruptError(`token metadata of ${JSON.stringify(label)} is not JSON`);
    }
    const d = doc as Record<string, unknown>;
    if (
      typeof d !== 'object' || d === null || d.v !== META_VERSION ||
      !['ec-p256', 'ed25519', 'aes-128', 'aes-256', 'hmac-256'].includes(d.type as string) ||
      typeof d.createdAt !== 'string' || typeof d.id !== 'string' || !/^[0-9a-f]{32}$/.test(d.id)
    ) {
      throw new KeyStoreCorruptError(`token metadata of ${JSON.stringify(label)} is malformed`);
    }
    return { label, type: d.type as KeyType, createdAt: d.createdAt, id: Buffer.from(d.id, 'hex') };
  }

  #meta(session: Handle, label: string): Meta {
    const found = this.#metaObjects(session, label);
    if (found.length === 0) throw new KeyNotFoundError(label);
    if (found.length > 1) throw new KeyStoreCorruptError(`the token holds ${found.length} metadata objects labelled ${JSON.stringify(label)}`);
    return this.#readMeta(session, found[0]!);
  }

  #keyObject(session: Handle, meta: Meta, cls: number): Handle {
    const found = this.#find(session, [
      { type: P.CKA_CLASS, value: cls },
      { type: P.CKA_ID, value: meta.id },
      { type: P.CKA_LABEL, value: meta.label },
    ]);
    if (found.length !== 1) throw new KeyStoreCorruptError(`the token holds ${found.length} key objects for ${JSON.stringify(meta.label)}`);
    return found[0]!;
  }

  #requireEd25519(): void {
    if (!this.#mechanisms.has(CKM_EDDSA) || !this.#mechanisms.has(CKM_EC_EDWARDS_KEY_PAIR_GEN)) {
      throw new KeyStoreUnsupportedError('this token does not offer CKM_EDDSA / CKM_EC_EDWARDS_KEY_PAIR_GEN: ed25519 keys are not available');
    }
  }

  /** Creates the metadata object last; if that fails, removes the key objects again. */
  #finishCreate(session: Handle, label: string, type: KeyType, id: Buffer, objects: Handle[]): KeyInfo {
    const createdAt = new Date().toISOString();
    try {
      this.#lib.C_CreateObject(session, [
        { type: P.CKA_CLASS, value: P.CKO_DATA },
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_PRIVATE, value: true },
        { type: P.CKA_APPLICATION, value: APPLICATION },
        { type: P.CKA_LABEL, value: label },
        { type: P.CKA_VALUE, value: Buffer.from(JSON.stringify({ v: META_VERSION, type, createdAt, id: id.toString('hex') })) },
      ]);
    } catch (e) {
      for (const o of objects) {
        try {
          this.#lib.C_DestroyObject(session, o);
        } catch {
          // Best effort: an orphan key without metadata is invisible to the store.
        }
      }
      throw e;
    }
    return { label, type, createdAt, backend: 'pkcs11' };
  }

  #assertFree(session: Handle, label: string): void {
    if (this.#metaObjects(session, label).length > 0) throw new LabelExistsError(label);
  }

  async generateKey(label: string, type: KeyType): Promise<KeyInfo> {
    assertLabel(label);
    assertKeyType(type);
    if (type === 'ed25519') this.#requireEd25519();
    return this.#op('generateKey', (s) => {
      this.#assertFree(s, label);
      const id = randomBytes(16);
      const common = keyObjectAttrs(label, id);
      if (isAsymmetric(type)) {
        const ec = type === 'ec-p256';
        const { publicKey, privateKey } = this.#lib.C_GenerateKeyPair(
          s,
          { mechanism: ec ? P.CKM_EC_KEY_PAIR_GEN : CKM_EC_EDWARDS_KEY_PAIR_GEN },
          [...common, { type: P.CKA_PRIVATE, value: false }, { type: P.CKA_EC_PARAMS, value: ec ? P256_OID_DER : ED25519_OID_DER }, { type: P.CKA_VERIFY, value: true }],
          [...common, ...secretAttrs(), ...privateKeyUses(ec)],
        );
        return this.#finishCreate(s, label, type, id, [publicKey, privateKey]);
      }
      const mechanism = type === 'hmac-256' ? P.CKM_GENERIC_SECRET_KEY_GEN : P.CKM_AES_KEY_GEN;
      const key = this.#lib.C_GenerateKey(s, { mechanism }, [...common, ...secretAttrs(), ...secretKeyAttrs(type, type === 'aes-128' ? 16 : 32)]);
      return this.#finishCreate(s, label, type, id, [key]);
    });
  }

  async importKey(label: string, type: KeyType, material: Uint8Array): Promise<KeyInfo> {
    assertLabel(label);
    assertKeyType(type);
    if (type === 'ed25519') this.#requireEd25519();
    let secret: Buffer;
    let point: Buffer | undefined;
    if (isAsymmetric(type)) {
      ({ secret, point } = rawKeyParts(parsePkcs8(material, type)));
    } else {
      assertBytes(material, 'material', secretLengthRule(type));
      secret = Buffer.from(material);
    }
    try {
      return this.#op('importKey', (s) => {
        this.#assertFree(s, label);
        const id = randomBytes(16);
        const common = keyObjectAttrs(label, id);
        const secretValue: Template = [...secretAttrs(), { type: P.CKA_VALUE, value: secret }];
        if (isAsymmetric(type)) {
          const ec = type === 'ec-p256';
          const keyType = ec ? P.CKK_EC : CKK_EC_EDWARDS;
          const params = ec ? P256_OID_DER : ED25519_OID_DER;
          const pub = this.#lib.C_CreateObject(s, [
            ...common,
            { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
            { type: P.CKA_KEY_TYPE, value: keyType },
            { type: P.CKA_PRIVATE, value: false },
            { type: P.CKA_EC_PARAMS, value: params },
            { type: P.CKA_EC_POINT, value: octetString(point!) },
            { type: P.CKA_VERIFY, value: true },
          ]);
          let priv: Handle;
          try {
            priv = this.#lib.C_CreateObject(s, [
              ...common,
              ...secretValue,
              { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
              { type: P.CKA_KEY_TYPE, value: keyType },
              { type: P.CKA_EC_PARAMS, value: params },
              ...privateKeyUses(ec),
            ]);
          } catch (e) {
            this.#lib.C_DestroyObject(s, pub);
            throw e;
          }
          return this.#finishCreate(s, label, type, id, [pub, priv]);
        }
        const key = this.#lib.C_CreateObject(s, [...common, ...secretValue, ...secretKeyAttrs(type)]);
        return this.#finishCreate(s, label, type, id, [key]);
      });
    } finally {
      secret.fill(0);
    }
  }

  async hasKey(label: string): Promise<boolean> {
    assertLabel(label);
    return this.#op('hasKey', (s) => this.#metaObjects(s, label).length > 0);
  }

  async getKeyInfo(label: string): Promise<KeyInfo> {
    assertLabel(label);
    return this.#op('getKeyInfo', (s) => {
      const m = this.#meta(s, label);
      return { label: m.label, type: m.type, createdAt: m.createdAt, backend: 'pkcs11' };
    });
  }

  async listKeys(): Promise<KeyInfo[]> {
    return this.#op('listKeys', (s) =>
      this.#metaObjects(s)
        .map((h) => this.#readMeta(s, h))
        .map((m): KeyInfo => ({ label: m.label, type: m.type, createdAt: m.createdAt, backend: 'pkcs11' }))
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.label.localeCompare(b.label)),
    );
  }

  async deleteKey(label: string): Promise<void> {
    assertLabel(label);
    this.#op('deleteKey', (s) => {
      const handles = this.#metaObjects(s, label);
      if (handles.length === 0) throw new KeyNotFoundError(label);
      const m = this.#readMeta(s, handles[0]!);
      const keys = this.#find(s, [
        { type: P.CKA_ID, value: m.id },
        { type: P.CKA_LABEL, value: label },
      ]);
      // Keys first, metadata last: an interrupted delete leaves a findable (and re-deletable) entry.
      for (const h of keys) this.#lib.C_DestroyObject(s, h);
      for (const h of handles) this.#lib.C_DestroyObject(s, h);
    });
  }

  async getPublicKey(label: string): Promise<Uint8Array> {
    assertLabel(label);
    return this.#op('getPublicKey', (s) => {
      const m = this.#meta(s, label);
      requireKeyType(label, m.type, ['ec-p256', 'ed25519']);
      const pub = this.#keyObject(s, m, P.CKO_PUBLIC_KEY);
      const [attr] = this.#lib.C_GetAttributeValue(s, pub, [{ type: P.CKA_EC_POINT }]);
      try {
        return spkiFromPoint(m.type, ecPoint(attr!.value, m.type));
      } catch (e) {
        if (e instanceof KeyStoreCorruptError) throw e;
        throw new KeyStoreCorruptError(`token public key of ${JSON.stringify(label)} is not a valid ${m.type} key`, { cause: e });
      }
    });
  }

  async sign(label: string, data: Uint8Array): Promise<Uint8Array> {
    assertLabel(label);
    assertBytes(data, 'data');
    return this.#op('sign', (s) => {
      const m = this.#meta(s, label);
      requireKeyType(label, m.type, ['ec-p256', 'ed25519']);
      const key = this.#keyObject(s, m, P.CKO_PRIVATE_KEY);
      if (m.type === 'ec-p256') {
        // CKM_ECDSA signs a caller-supplied digest; PKCS#11 §2.3.6 defines its output as r||s.
        this.#lib.C_SignInit(s, { mechanism: P.CKM_ECDSA }, key);
        return new Uint8Array(this.#lib.C_Sign(s, createHash('sha256').update(data).digest(), Buffer.alloc(64)));
      }
      // Pure EdDSA is single-part only, and the binding cannot pass an empty buffer to C_Sign.
      if (data.length === 0) throw new KeyStoreUnsupportedError('Ed25519 over an empty message is not supported on the PKCS#11 backend');
      this.#lib.C_SignInit(s, { mechanism: CKM_EDDSA }, key);
      return new Uint8Array(this.#lib.C_Sign(s, Buffer.from(data), Buffer.alloc(64)));
    });
  }

  async deriveSharedSecret(label: string, peerPublicKey: Uint8Array): Promise<Uint8Array> {
    assertLabel(label);
    const peer = parsePeerP256(peerPublicKey);
    return this.#op('deriveSharedSecret', (s) => {
      const m = this.#meta(s, label);
      requireKeyType(label, m.type, ['ec-p256']);
      const key = this.#keyObject(s, m, P.CKO_PRIVATE_KEY);
      // The interface returns the shared secret, so derive it into a session-only, extractable
      // generic secret, read it, and destroy the object at once.
      const ecdh: ECDH1Params = { type: P.CK_PARAMS_EC_DH, kdf: P.CKD_NULL, publicData: peer.point };
      const derived = this.#lib.C_DeriveKey(
        s,
        { mechanism: P.CKM_ECDH1_DERIVE, parameter: ecdh },
        key,
        [
          { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
          { type: P.CKA_KEY_TYPE, value: P.CKK_GENERIC_SECRET },
          { type: P.CKA_TOKEN, value: false },
          { type: P.CKA_SENSITIVE, value: false },
          { type: P.CKA_EXTRACTABLE, value: true },
          { type: P.CKA_VALUE_LEN, value: 32 },
        ],
      );
      try {
        const [attr] = this.#lib.C_GetAttributeValue(s, derived, [{ type: P.CKA_VALUE }]);
        const out = new Uint8Array(attr!.value);
        attr!.value.fill(0);
        return out;
      } finally {
        this.#lib.C_DestroyObject(s, derived);
      }
    });
  }

  async hmac(label: string, data: Uint8Array): Promise<Uint8Array> {
    assertLabel(label);
    assertBytes(data, 'data');
    return this.#op('hmac', (s) => {
      const m = this.#meta(s, label);
      requireKeyType(label, m.type, ['hmac-256']);
      const key = this.#keyObject(s, m, P.CKO_SECRET_KEY);
      this.#lib.C_SignInit(s, { mechanism: P.CKM_SHA256_HMAC }, key);
      // The binding cannot pass an empty buffer to C_Sign; C_SignFinal alone is the empty message.
      const mac = data.length === 0 ? this.#lib.C_SignFinal(s, Buffer.alloc(32)) : this.#lib.C_Sign(s, Buffer.from(data), Buffer.alloc(32));
      return new Uint8Array(mac);
    });
  }

  #blockOps(s: Handle, key: Handle): AesBlockOps {
    return {
      ecb: (blocks) => {
        this.#lib.C_EncryptInit(s, { mechanism: P.CKM_AES_ECB }, key);
        return this.#lib.C_Encrypt(s, blocks, Buffer.alloc(blocks.length));
      },
      cbcMac: (blocks) => {
        this.#lib.C_EncryptInit(s, { mechanism: P.CKM_AES_CBC, parameter: Buffer.alloc(16) }, key);
        const out = this.#lib.C_Encrypt(s, blocks, Buffer.alloc(blocks.length));
        return out.subarray(out.length - 16);
      },
    };
  }

  #gcmParams(nonce: Uint8Array, aad: Uint8Array | undefined): { mechanism: number; parameter: { type: number; iv: Buffer; aad?: Buffer; ivBits: number; tagBits: number } } {
    const parameter = { type: P.CK_PARAMS_AES_GCM, iv: Buffer.from(nonce), ivBits: 96, tagBits: 128 };
    return { mechanism: P.CKM_AES_GCM, parameter: aad !== undefined && aad.length > 0 ? { ...parameter, aad: Buffer.from(aad) } : parameter };
  }

  async seal(label: string, alg: KeyStoreAeadAlgorithm, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
    assertLabel(label);
    const params = checkAeadArgs(alg, nonce, plaintext, 'plaintext', aad);
    return this.#op('seal', (s) => {
      const m = this.#meta(s, label);
      requireKeyType(label, m.type, [params.keyType]);
      const key = this.#keyObject(s, m, P.CKO_SECRET_KEY);
      if (params.mode === 'ccm') return ccmSeal(this.#blockOps(s, key), nonce, plaintext, aad ?? new Uint8Array(0), params.tagLength);
      this.#lib.C_EncryptInit(s, this.#gcmParams(nonce, aad), key);
      const out = Buffer.alloc(plaintext.length + 16);
      // An empty plaintext cannot go through the binding's C_Encrypt; C_EncryptFinal gives the tag.
      return new Uint8Array(plaintext.length === 0 ? this.#lib.C_EncryptFinal(s, out) : this.#lib.C_Encrypt(s, Buffer.from(plaintext), out));
    });
  }

  async open(label: string, alg: KeyStoreAeadAlgorithm, nonce: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
    assertLabel(label);
    const params = checkAeadArgs(alg, nonce, ciphertext, 'ciphertext', aad);
    return this.#op('open', (s) => {
      const m = this.#meta(s, label);
      requireKeyType(label, m.type, [params.keyType]);
      const key = this.#keyObject(s, m, P.CKO_SECRET_KEY);
      if (ciphertext.length < params.tagLength) throw new AeadAuthFailedError();
      if (params.mode === 'ccm') {
        const out = ccmOpen(this.#blockOps(s, key), nonce, ciphertext, aad ?? new Uint8Array(0), params.tagLength);
        if (out === undefined) throw new AeadAuthFailedError();
        return out;
      }
      this.#lib.C_DecryptInit(s, this.#gcmParams(nonce, aad), key);
      try {
        return new Uint8Array(this.#lib.C_Decrypt(s, Buffer.from(ciphertext), Buffer.alloc(ciphertext.length)));
      } catch {
        // Tokens report a bad GCM tag variously (SoftHSM: CKR_GENERAL_ERROR, others
        // CKR_ENCRYPTED_DATA_INVALID); whatever the code, no plaintext was released.
        throw new AeadAuthFailedError();
      }
    });
  }

  async close(): Promise<void> {
    const s = this.#session;
    if (s === undefined) return;
    this.#session = undefined;
    try {
      this.#lib.C_CloseSession(s);
    } finally {
      releaseModule(this.#modulePath);
    }
  }

  toString(): string {
    return `Pkcs11KeyStore(${this.#modulePath}, slot ${slotIdOf(this.#slot)})`;
  }

  toJSON(): object {
    return { backend: this.backend, module: this.#modulePath, slot: slotIdOf(this.#slot).toString() };
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

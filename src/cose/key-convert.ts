/**
 * COSE_Key ⇄ node:crypto KeyObject and SubjectPublicKeyInfo DER, so keys from the KeyStore,
 * X.509 certificates and COSE messages meet in one shape.
 */
import { KeyObject, createPrivateKey, createPublicKey, createSecretKey } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, describeType } from '../util/assert.js';
import { coseKeyFromMap, coseKeyToMap, ed25519PublicFromPrivate, p256PublicFromPrivate, type CoseKey } from './cose-key.js';
import { CoseUnsupportedKeyError } from './errors.js';
import { jwkOf } from '../crypto/key-pairs.js';

/** Optional COSE_Key parameters to attach when converting from node:crypto. */
export interface CoseKeyParameters {
  kid?: Uint8Array;
  alg?: number | string;
  keyOps?: (number | string)[];
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const unb64 = (text: string | undefined): Uint8Array => new Uint8Array(Buffer.from(text ?? '', 'base64url'));

/** Validates `key` completely (shape, lengths, point on curve, d matching x/y). */
function checked(key: CoseKey): CoseKey {
  return coseKeyFromMap(coseKeyToMap(key));
}

/**
 * The KeyObject for a COSE_Key: private when it has d, public otherwise, secret for Symmetric.
 */
export function coseKeyToKeyObject(key: CoseKey): KeyObject {
  const k = checked(key);
  switch (k.kty) {
    case 'Symmetric':
      return createSecretKey(k.k);
    case 'EC2': {
      const pub = k.x !== undefined ? { x: k.x, y: k.y! } : p256PublicFromPrivate(k.d!);
      const jwk = { kty: 'EC', crv: 'P-256', x: b64(pub.x), y: b64(pub.y) };
      return k.d !== undefined ? createPrivateKey({ key: { ...jwk, d: b64(k.d) }, format: 'jwk' }) : createPublicKey({ key: jwk, format: 'jwk' });
    }
    case 'OKP': {
      const x = k.x ?? ed25519PublicFromPrivate(k.d!);
      const jwk = { kty: 'OKP', crv: 'Ed25519', x: b64(x) };
      return k.d !== undefined ? createPrivateKey({ key: { ...jwk, d: b64(k.d) }, format: 'jwk' }) : createPublicKey({ key: jwk, format: 'jwk' });
    }
  }
}

/** The public part of an EC2 or OKP COSE_Key as SubjectPublicKeyInfo DER. */
export function coseKeyToSpki(key: CoseKey): Uint8Array {
  const keyObject = coseKeyToKeyObject(key);
  if (keyObject.type === 'secret') throw new InvalidArgumentError('key', 'a Symmetric key has no public key');
  const pub = keyObject.type === 'private' ? createPublicKey(keyObject) : keyObject;
  return new Uint8Array(pub.export({ type: 'spki', format: 'der' }));
}

function withParameters<T extends CoseKey>(key: T, params: CoseKeyParameters | undefined): T {
  if (params === undefined) return key;
  if (typeof params !== 'object' || params === null) throw new InvalidArgumentError('params', `expected an object, got ${describeType(params)}`);
  const out = { ...key };
  if (params.kid !== undefined) out.kid = params.kid;
  if (params.alg !== undefined) out.alg = params.alg;
  if (params.keyOps !== undefined) out.keyOps = params.keyOps;
  return checked(out) as T;
}

/**
 * A COSE_Key from a node:crypto key: P-256 (public or private) → EC2, Ed25519 → OKP, secret →
 * Symmetric. Other key types throw ERR_COSE_UNSUPPORTED_KEY.
 */
export function coseKeyFromKeyObject(keyObject: KeyObject, params?: CoseKeyParameters): CoseKey {
  if (!(keyObject instanceof KeyObject)) throw new InvalidArgumentError('keyObject', `expected a KeyObject, got ${describeType(keyObject)}`);
  if (keyObject.type === 'secret') {
    return withParameters({ kty: 'Symmetric', k: new Uint8Array(keyObject.export()) }, params);
  }
  // Through a DER copy: a key straight from generateKeyPairSync can deadlock a JWK export (src/crypto/key-pairs.ts).
  const jwk = jwkOf(keyObject);
  if (keyObject.asymmetricKeyType === 'ec' && jwk.crv === 'P-256') {
    const key: CoseKey = { kty: 'EC2', crv: 'P-256', x: unb64(jwk.x), y: unb64(jwk.y) };
    if (jwk.d !== undefined) key.d = unb64(jwk.d);
    return withParameters(key, params);
  }
  if (keyObject.asymmetricKeyType === 'ed25519') {
    const key: CoseKey = { kty: 'OKP', crv: 'Ed25519', x: unb64(jwk.x) };
    if (jwk.d !== undefined) key.d = unb64(jwk.d);
    return withParameters(key, params);
  }
  throw new CoseUnsupportedKeyError(`${keyObject.asymmetricKeyType ?? 'this'} key has no supported COSE_Key form (P-256, Ed25519, symmetric)`);
}

/** A public COSE_Key from SubjectPublicKeyInfo DER (e.g. a KeyStore public key or a certificate's). */
export function coseKeyFromSpki(spki: Uint8Array, params?: CoseKeyParameters): CoseKey {
  assertBytes(spki, 'spki');
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (err) {
    throw new InvalidArgumentError('spki', 'not a SubjectPublicKeyInfo DER public key', { cause: err });
  }
  return coseKeyFromKeyObject(keyObject, params);
}

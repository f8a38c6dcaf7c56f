/**
 * What the registrar does to the MASA's COSE voucher before relaying it on /.well-known/brski/rv.
 *
 * cBRSKI (draft-ietf-anima-constrained-voucher §6.6): a MASA may put certificates (x5bag, or an
 * x5chain) in the voucher's *unprotected* header, for the registrar's use (logging, checking who
 * signed); the registrar strips them before it passes the voucher on, so a constrained pledge gets
 * no bytes it does not need (and cannot be tempted to trust certificates nothing signed: rootline
 * pledges never look at that bucket, constrained-voucher.ts).
 *
 * Only the unprotected map is re-encoded; the tag, the protected header bstr, the payload and the
 * signature are copied byte for byte. RFC 9052 §4.4: the signature covers Sig_structure =
 * ["Signature1", body_protected, external_aad, payload], not the unprotected bucket, so the
 * voucher still verifies. A voucher with no certificate in the unprotected header is returned as
 * it came (same bytes).
 */
import { decodeCbor, encodeCbor } from '../../cose/cbor.js';
import { X5BAG, X5CHAIN } from '../constrained-voucher.js';
import { MalformedSignedVoucherError } from '../errors.js';

/** COSE header labels that carry certificates (RFC 9360 §2): x5bag 32, x5chain 33. */
const CERTIFICATE_LABELS: readonly number[] = [X5BAG, X5CHAIN];
const COSE_SIGN1_TAG = 18;

interface Head {
  major: number;
  /** The argument; -1 for an indefinite length. */
  value: number;
  /** Offset just after the head. */
  next: number;
}

function head(bytes: Uint8Array, at: number): Head {
  if (at >= bytes.length) throw new MalformedSignedVoucherError('the COSE_Sign1 voucher is truncated');
  const ib = bytes[at]!;
  const major = ib >> 5;
  const ai = ib & 0x1f;
  if (ai < 24) return { major, value: ai, next: at + 1 };
  if (ai === 31) return { major, value: -1, next: at + 1 };
  if (ai > 27) throw new MalformedSignedVoucherError('reserved CBOR additional information in the voucher');
  const size = 1 << (ai - 24);
  if (at + 1 + size > bytes.length) throw new MalformedSignedVoucherError('the COSE_Sign1 voucher is truncated');
  let value = 0;
  for (let i = 0; i < size; i++) value = value * 256 + bytes[at + 1 + i]!;
  return { major, value, next: at + 1 + size };
}

/** Offset just after the data item starting at `at` (the input was already decoded whole, so this only measures). */
function skip(bytes: Uint8Array, at: number): number {
  const h = head(bytes, at);
  const indefinite = h.value === -1;
  switch (h.major) {
    case 0:
    case 1:
    case 7:
      return h.next;
    case 2:
    case 3: {
      if (!indefinite) return h.next + h.value;
      let p = h.next;
      while (bytes[p] !== 0xff) p = skip(bytes, p);
      return p + 1;
    }
    case 4:
    case 5: {
      let p = h.next;
      if (indefinite) {
        while (bytes[p] !== 0xff) p = skip(bytes, p);
        return p + 1;
      }
      const items = h.major === 5 ? 2 * h.value : h.value;
      for (let i = 0; i < items; i++) p = skip(bytes, p);
      return p;
    }
    default:
      return skip(bytes, h.next);
  }
}

/**
 * The COSE_Sign1 voucher without certificates in its unprotected header (x5bag, x5chain); every
 * other unprotected parameter stays. Throws MalformedSignedVoucherError
 * (ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE) for bytes that are not a COSE_Sign1.
 */
export function stripUnprotectedCertificates(voucher: Uint8Array): Uint8Array {
  if (!(voucher instanceof Uint8Array)) throw new MalformedSignedVoucherError('expected the COSE_Sign1 voucher bytes');
  // Well-formed CBOR, one item, no trailing bytes, no duplicate labels: after this, skip() only measures.
  try {
    decodeCbor(voucher, { maxDepth: 8 });
  } catch (err) {
    throw new MalformedSignedVoucherError('the voucher is not well-formed CBOR', { cause: err });
  }
  let at = 0;
  const first = head(voucher, 0);
  if (first.major === 6) {
    if (first.value !== COSE_SIGN1_TAG) throw new MalformedSignedVoucherError(`expected COSE_Sign1 (tag ${COSE_SIGN1_TAG}), got tag ${first.value}`);
    at = first.next;
  }
  const array = head(voucher, at);
  if (array.major !== 4 || array.value !== 4) throw new MalformedSignedVoucherError('a COSE_Sign1 is an array of 4');
  const unprotectedStart = skip(voucher, array.next);
  const unprotectedEnd = skip(voucher, unprotectedStart);
  const unprotected = decodeCbor(voucher.subarray(unprotectedStart, unprotectedEnd));
  if (!(unprotected instanceof Map)) throw new MalformedSignedVoucherError('the COSE_Sign1 unprotected header must be a map');
  if (!CERTIFICATE_LABELS.some((label) => unprotected.has(label))) return voucher;
  const kept = new Map([...unprotected].filter(([label]) => !CERTIFICATE_LABELS.includes(label as number)));
  const map = encodeCbor(kept);
  const out = new Uint8Array(voucher.length - (unprotectedEnd - unprotectedStart) + map.length);
  out.set(voucher.subarray(0, unprotectedStart), 0);
  out.set(map, unprotectedStart);
  out.set(voucher.subarray(unprotectedEnd), unprotectedStart + map.length);
  return out;
}

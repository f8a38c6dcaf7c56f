/**
 * Content negotiation of the MASA's requestvoucher route (RFC 8995 §5.5/§5.6, cBRSKI
 * draft-ietf-anima-constrained-voucher §7.1): which format a request body declares
 * (Content-Type) and which voucher format the registrar accepts (Accept, RFC 9110 §12.5.1).
 * Pure functions over header text: no fastify, no I/O.
 */
import type { VoucherFormat } from '../masa.js';

export const VOUCHER_CMS_MEDIA_TYPE = 'application/voucher-cms+json';
/** draft-ietf-anima-constrained-voucher §15.2.1 (CoAP Content-Format 836). */
export const VOUCHER_COSE_MEDIA_TYPE = 'application/voucher+cose';

const FORMAT_OF: Readonly<Record<string, VoucherFormat>> = { [VOUCHER_CMS_MEDIA_TYPE]: 'cms', [VOUCHER_COSE_MEDIA_TYPE]: 'cose' };
export const MEDIA_TYPE_OF: Readonly<Record<VoucherFormat, string>> = { cms: VOUCHER_CMS_MEDIA_TYPE, cose: VOUCHER_COSE_MEDIA_TYPE };

/** Longest Accept header looked at, and most media ranges in it (larger ones: 406). */
const MAX_ACCEPT_LENGTH = 1024;
const MAX_ACCEPT_RANGES = 32;
// RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
const QVALUE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** The media type of a Content-Type header without parameters, lower case; undefined when absent or not type/subtype. */
export function mediaTypeEssence(header: string | undefined): string | undefined {
  if (typeof header !== 'string' || header.length > MAX_ACCEPT_LENGTH) return undefined;
  const essence = header.split(';', 1)[0]!.trim().toLowerCase();
  const [type, subtype, extra] = essence.split('/');
  return type !== undefined && subtype !== undefined && extra === undefined && TOKEN.test(type) && TOKEN.test(subtype) ? essence : undefined;
}

/** The voucher request format a Content-Type declares; undefined for any other type (415). */
export function requestFormatOf(contentType: string | undefined): VoucherFormat | undefined {
  const essence = mediaTypeEssence(contentType);
  return essence === undefined ? undefined : FORMAT_OF[essence];
}

/**
 * The voucher format to answer with (RFC 9110 §12.5.1): the acceptable media range with the
 * highest q; a specific type beats a wildcard of equal q; `preferred` (the request's own format —
 * cBRSKI §7.1: the voucher's format is the pledge request's) wins ties and answers a missing or
 * wildcard-only Accept. Undefined when nothing offered is acceptable (406), including ranges with
 * q=0 and malformed headers.
 */
export function acceptedVoucherFormat(accept: string | undefined, preferred: VoucherFormat): VoucherFormat | undefined {
  if (accept === undefined) return preferred;
  if (typeof accept !== 'string' || accept.length > MAX_ACCEPT_LENGTH) return undefined;
  if (accept.trim() === '') return preferred;
  const ranges = accept.split(',');
  if (ranges.length > MAX_ACCEPT_RANGES) return undefined;
  // weight per format: [q, specificity]; a format never named or matched stays unacceptable.
  const best = new Map<VoucherFormat, { q: number; specific: boolean }>();
  const offer = (format: VoucherFormat, q: number, specific: boolean): void => {
    const seen = best.get(format);
    // RFC 9110 §12.5.1: the most specific range that matches decides the q of a type.
    if (seen === undefined || (specific && !seen.specific) || (specific === seen.specific && q > seen.q)) best.set(format, { q, specific });
  };
  for (const range of ranges) {
    const [typePart, ...params] = range.split(';');
    const type = typePart!.trim().toLowerCase();
    if (type === '') continue;
    let q = 1;
    let valid = true;
    for (const p of params) {
      const eq = p.indexOf('=');
      const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
      if (name !== 'q') continue;
      const value = eq < 0 ? '' : p.slice(eq + 1).trim();
      if (!QVALUE.test(value)) valid = false;
      else q = Number(value);
    }
    if (!valid) continue;
    if (type === '*/*' || type === 'application/*') {
      for (const f of ['cms', 'cose'] as const) offer(f, q, false);
    } else if (FORMAT_OF[type] !== undefined) offer(FORMAT_OF[type], q, true);
  }
  let chosen: VoucherFormat | undefined;
  let chosenWeight = { q: 0, specific: false };
  for (const f of [preferred, preferred === 'cms' ? 'cose' : 'cms'] as const) {
    const w = best.get(f);
    if (w === undefined || w.q <= 0) continue;
    if (chosen === undefined || w.q > chosenWeight.q || (w.q === chosenWeight.q && w.specific && !chosenWeight.specific)) {
      chosen = f;
      chosenWeight = w;
    }
  }
  return chosen;
}

/**
 * Constrained BRSKI on a CoapEndpoint (draft-ietf-anima-constrained-voucher over RFC 8995), on
 * top of the transport-free registrar:
 *
 *   POST /.well-known/brski/rv  Content-Format 836 (COSE_Sign1 voucher request), Accept 836
 *        → 2.04 836 the MASA's COSE voucher, unprotected certificates stripped | 5.03 + Max-Age while an operator decides
 *   POST /.well-known/brski/vs  Content-Format 50 (JSON) | 60 (CBOR) voucher status → 2.04
 *   POST /.well-known/brski/es  Content-Format 50 | 60 enroll status → 2.04
 *
 *   GET  /.well-known/rootline/lwm2m-bootstrap  (DTLS with the LDevID) → 2.05 JSON (50)
 *        { endpoint, uri, securityMode, serverCertificate (base64 DER) }: where the enrolled
 *        device bootstraps (not BRSKI: rootline's next step, as on the HTTPS registrar)
 *
 * Listed in /.well-known/core with rt="brski.rv" / "brski.vs" / "brski.es". The pledge's DTLS
 * client certificate (its IDevID, taken provisionally by the handshake) and the registrar
 * certificate this server presented reach the registrar exactly as the HTTPS routes hand them
 * over, so the same checks (manufacturer, proximity, identity, policy, nonce) and audit records
 * apply.
 */
import { CoapCode, type CoapEndpoint, type CoapRequest, type ResourceHandle } from '../../coap/index.js';
import { InvalidArgumentError } from '../../errors.js';
import type { PledgeContext, Registrar } from '../registrar/registrar.js';
import { BRSKI_SHORT_NAMES, BrskiCoapsFormat } from './content-formats.js';
import { CoapsNotAcceptableError, CoapsUnsupportedContentFormatError } from './errors.js';
import { answer, retryLater } from './est-resources.js';
import type { CoapsPeerLookup } from './peer.js';
import { statusBodyAsJson } from './status-body.js';
import { stripUnprotectedCertificates } from './voucher-relay.js';

export interface BrskiCoapsOptions {
  /** `bootstrapServerFor` absent: the lwm2m-bootstrap resource is not mounted. */
  registrar: Pick<Registrar, 'requestVoucher' | 'voucherStatus' | 'enrollStatus'> & Partial<Pick<Registrar, 'bootstrapServerFor'>>;
  peerOf: CoapsPeerLookup;
}

export const BRSKI_ROOT = '/.well-known/brski';
/** Same path as the HTTPS registrar's (registrar/routes.ts LWM2M_BOOTSTRAP_PATH). */
export const LWM2M_BOOTSTRAP_COAP_PATH = '/.well-known/rootline/lwm2m-bootstrap';

function pledgeContext(peerOf: CoapsPeerLookup, req: CoapRequest): PledgeContext {
  const p = peerOf(req.peer);
  return {
    clientCertificates: p.clientCertificates,
    ...(p.serverCertificate !== undefined ? { serverCertificate: p.serverCertificate } : {}),
    ...(p.remoteAddress !== undefined ? { remoteAddress: p.remoteAddress } : {}),
  };
}

/** Mounts rv, vs and es; returns their handles. */
export function mountBrskiCoaps(endpoint: CoapEndpoint, options: BrskiCoapsOptions): ResourceHandle[] {
  if (options === null || typeof options !== 'object' || options.registrar === undefined || typeof options.peerOf !== 'function') throw new InvalidArgumentError('options', 'expected { registrar, peerOf }');
  const { registrar, peerOf } = options;
  const statusFormats = [BrskiCoapsFormat.Json, BrskiCoapsFormat.Cbor];

  const rv = (req: CoapRequest) =>
    answer(async () => {
      if (req.contentFormat !== BrskiCoapsFormat.VoucherCose) throw new CoapsUnsupportedContentFormatError(`expected Content-Format ${BrskiCoapsFormat.VoucherCose} (application/voucher+cose), got ${req.contentFormat ?? 'none'}`);
      if (req.accept !== undefined && req.accept !== BrskiCoapsFormat.VoucherCose) throw new CoapsNotAcceptableError(`vouchers are application/voucher+cose (${BrskiCoapsFormat.VoucherCose}) here`);
      const outcome = await registrar.requestVoucher(pledgeContext(peerOf, req), req.payload, { format: 'cose' });
      if (outcome.status === 'pending') return retryLater(outcome.retryAfterSeconds, 'operator approval');
      // cBRSKI §6.6: certificates the MASA put in the unprotected header are for the registrar;
      // they are stripped before the voucher goes to the pledge (the signature does not cover them).
      return { code: CoapCode.Changed, contentFormat: BrskiCoapsFormat.VoucherCose, payload: stripUnprotectedCertificates(outcome.voucher) };
    });
  const status = (kind: 'voucherStatus' | 'enrollStatus') => (req: CoapRequest) =>
    answer(async () => {
      await registrar[kind](pledgeContext(peerOf, req), statusBodyAsJson(req.payload, req.contentFormat));
      return { code: CoapCode.Changed };
    });

  const handles: ResourceHandle[] = [];
  const bootstrapServerFor = registrar.bootstrapServerFor?.bind(registrar);
  if (bootstrapServerFor !== undefined) {
    handles.push(
      endpoint.resource(LWM2M_BOOTSTRAP_COAP_PATH, {
        hidden: true,
        get: (req) =>
          answer(async () => {
            if (req.accept !== undefined && req.accept !== BrskiCoapsFormat.Json) throw new CoapsNotAcceptableError('the bootstrap server is named in application/json (50)');
            // The registrar checks the LDevID (this domain's, current, bound to its device) and audits.
            const info = await bootstrapServerFor(pledgeContext(peerOf, req));
            const body = { endpoint: info.endpoint, uri: info.uri, securityMode: info.securityMode, serverCertificate: Buffer.from(info.serverCertificate).toString('base64') };
            return { code: CoapCode.Content, contentFormat: BrskiCoapsFormat.Json, payload: JSON.stringify(body) };
          }),
      }),
    );
  }
  return [
    ...handles,
    endpoint.resource(`${BRSKI_ROOT}/${BRSKI_SHORT_NAMES.requestvoucher}`, { post: rv, attributes: { rt: 'brski.rv', ct: BrskiCoapsFormat.VoucherCose } }),
    endpoint.resource(`${BRSKI_ROOT}/${BRSKI_SHORT_NAMES.voucher_status}`, { post: status('voucherStatus'), attributes: { rt: 'brski.vs', ct: statusFormats } }),
    endpoint.resource(`${BRSKI_ROOT}/${BRSKI_SHORT_NAMES.enrollstatus}`, { post: status('enrollStatus'), attributes: { rt: 'brski.es', ct: statusFormats } }),
  ];
}

/**
 * A ready-made `authorize` for the common registrar policy: a pledge may enroll when its TLS
 * client certificate is an IDevID that chains to one of the manufacturer CAs the operator trusts
 * (RFC 8995 §5.1 provisional TLS: the handshake accepted any certificate, this decides). Further
 * rules (serial allow-lists, operator approval answered 202) go in `decide`.
 */
import { InvalidArgumentError, RootlineError } from '../../errors.js';
import { parseCertificate, type ParsedCertificate } from '../../pki/certificate.js';
import { findAttribute } from '../../pki/name.js';
import type { ParsedCsr } from '../../pki/parse-csr.js';
import { derFrom } from '../../pki/pem.js';
import { verifyChain } from '../../pki/verify-chain.js';
import type { EstAuthorization, EstAuthorize, EstAuthorizeContext } from './service.js';

export type EstDecide = (client: ParsedCertificate, csr: ParsedCsr, context: EstAuthorizeContext) => EstAuthorization | Promise<EstAuthorization>;

export interface AuthorizeByManufacturerOptions {
  /** Trust anchors for IDevIDs (DER or PEM). */
  manufacturerCas: readonly (Uint8Array | string)[];
  /** Called for a pledge whose IDevID verified. Default: accept, identity = its serialNumber. */
  decide?: EstDecide;
  /**
   * Called for /simplereenroll, after the service verified that the client certificate is a
   * current one of the domain CA. Default: accept.
   */
  reenroll?: EstDecide;
}

function identityOf(cert: ParsedCertificate): string {
  return findAttribute(cert.subjectRdns, 'serialNumber') ?? cert.fingerprint256;
}

/** Builds an `authorize` that checks IDevIDs against `manufacturerCas`. */
export function authorizeByManufacturer(options: AuthorizeByManufacturerOptions): EstAuthorize {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  if (!Array.isArray(options.manufacturerCas as unknown) || options.manufacturerCas.length === 0) {
    throw new InvalidArgumentError('options.manufacturerCas', 'expected at least one CA certificate');
  }
  const anchors = options.manufacturerCas.map((c, i) => parseCertificate(derFrom(c, `options.manufacturerCas[${i}]`, 'CERTIFICATE')));
  const accept: EstDecide = (client) => ({ decision: 'accept', identity: identityOf(client) });
  const decide = options.decide ?? accept;
  const reenroll = options.reenroll ?? accept;
  return async (chain, csr, context) => {
    const leaf = chain[0]!;
    if (context.operation === 'simplereenroll') return reenroll(leaf, csr, context);
    try {
      verifyChain(leaf, chain.slice(1), anchors);
    } catch (err) {
      if (!(err instanceof RootlineError)) throw err;
      return {
        decision: 'reject',
        identity: identityOf(leaf),
        reason: `the client certificate is not an IDevID of a trusted manufacturer (${err.code}: ${err.message})`,
      };
    }
    return decide(leaf, csr, context);
  };
}

/**
 * rootline/pki: certificate authorities, X.509 issue/parse/verify, PKCS#10 CSRs, CRLs and raw
 * public keys. CA keys stay behind a Signer (KeyStore or PKCS#11 token).
 */
export * from './errors.js';
export { encodePem, encodePemChain, decodePem, decodePemChain, parsePem, type PemBlock, type ParsePemOptions } from './pem.js';
export { parseDistinguishedName, formatRdns, findAttribute, type DistinguishedNameInput, type DnAttribute, type Rdn } from './name.js';
export { parseCertificate, type ParsedCertificate, type ParseCertificateOptions } from './certificate.js';
export {
  KEY_USAGES,
  masaUrlExtension,
  type ExtensionView,
  type ExtraExtension,
  type KeyUsageName,
  type SubjectAltNames,
  type SubjectAltNamesView,
} from './extensions.js';
export {
  createRootCa,
  CertificateAuthority,
  type CreateCrlOptions,
  type CreateIntermediateCaOptions,
  type CreateRootCaOptions,
  type IssueCertificateOptions,
  type IssuedCertificate,
  type ValidityOptions,
} from './certificate-authority.js';
export { REVOCATION_REASONS, applyCaChange, assertCaChange, type CaChange, type CaState, type IssuedRecord, type RevocationReason, type RevocationRecord } from './ca-state.js';
export { createCsr, type CreateCsrOptions } from './create-csr.js';
export { parseCsr, verifyCsr, type ParsedCsr, type ParseCsrOptions } from './parse-csr.js';
export {
  assertP256PublicKey,
  decodePublicKeyPem,
  extractRawPublicKey,
  parsePublicKey,
  publicKeyFingerprint,
  type PublicKeyAlgorithm,
  type PublicKeyView,
} from './public-key.js';
export { parseCrl, type ParsedCrl, type ParseCrlOptions, type RevokedEntry } from './parse-crl.js';
export { verifyChain, type CertificateInput, type CrlInput, type VerifiedChain, type VerifyChainOptions } from './verify-chain.js';
export { manufacturerCaPolicy, type IdevidOptions } from './manufacturer-policy.js';
export { domainCaPolicy, type LdevidOptions, type ServerCertificateOptions } from './domain-policy.js';
export { NO_WELL_DEFINED_EXPIRATION } from './time.js';

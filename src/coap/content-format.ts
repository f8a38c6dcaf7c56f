/**
 * CoAP Content-Formats (RFC 7252 §12.3 registry) that rootline produces or consumes, including
 * the OMA LwM2M ones.
 */
export const ContentFormat = {
  TextPlain: 0,
  LinkFormat: 40,
  Xml: 41,
  OctetStream: 42,
  Exi: 47,
  Json: 50,
  JsonPatch: 51,
  MergePatch: 52,
  Cbor: 60,
  Cwt: 61,
  CoseEncrypt0: 16,
  CoseMac0: 17,
  CoseSign1: 18,
  SenmlJson: 110,
  SenmlCbor: 112,
  SenmlEtchJson: 320,
  SenmlEtchCbor: 322,
  LwM2mTlv: 11542,
  LwM2mJson: 11543,
  LwM2mCbor: 11544,
} as const;

const NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'text/plain;charset=utf-8'],
  [16, 'application/cose;cose-type="cose-encrypt0"'],
  [17, 'application/cose;cose-type="cose-mac0"'],
  [18, 'application/cose;cose-type="cose-sign1"'],
  [40, 'application/link-format'],
  [41, 'application/xml'],
  [42, 'application/octet-stream'],
  [47, 'application/exi'],
  [50, 'application/json'],
  [51, 'application/json-patch+json'],
  [52, 'application/merge-patch+json'],
  [60, 'application/cbor'],
  [61, 'application/cwt'],
  [110, 'application/senml+json'],
  [112, 'application/senml+cbor'],
  [320, 'application/senml-etch+json'],
  [322, 'application/senml-etch+cbor'],
  [11542, 'application/vnd.oma.lwm2m+tlv'],
  [11543, 'application/vnd.oma.lwm2m+json'],
  [11544, 'application/vnd.oma.lwm2m+cbor'],
]);

/** The media type of a content-format number, or undefined when this registry does not know it. */
export function contentFormatName(format: number): string | undefined {
  return NAMES.get(format);
}

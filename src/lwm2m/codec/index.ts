/** LwM2M content-format codecs: pure bytes ⇄ nodes, chosen by content-format number. */
export { COMPOSITE_FORMATS, decodeComposite, decodeNode, encodeComposite, encodeNode, Lwm2mContentFormat, NODE_FORMATS } from './content-format.js';
export type { Lwm2mCodecLimits, Lwm2mCodecOptions } from './common.js';
export type { Lwm2mEntry } from './senml.js';
export { decodeTlv, encodeTlv } from './tlv.js';
export { decodeCreatePayload, type CreatedInstance } from './create-payload.js';
export { decodeOpaque, decodePlainText, encodeOpaque, encodePlainText } from './plain-text.js';
export { decodeSenmlJson, decodeSenmlJsonComposite, encodeSenmlJson, encodeSenmlJsonComposite } from './senml-json.js';
export { decodeSenmlCbor, decodeSenmlCborComposite, encodeSenmlCbor, encodeSenmlCborComposite } from './senml-cbor.js';
export { decodeLwm2mCbor, decodeLwm2mCborComposite, encodeLwm2mCbor, encodeLwm2mCborComposite } from './lwm2m-cbor.js';
export {
  formatLwm2mLinks,
  parseLwm2mLinks,
  parseRegistrationLinks,
  type Lwm2mLink,
  type Lwm2mLinkAttributes,
  type ParseLinksOptions,
  type RegistrationObjects,
} from './link-format.js';

/**
 * The payload of a Create request (Core §6.3.5 "Create"): the new Object Instance(s) of an object,
 * where the server may leave the instance id to the client. Core §6.3.5: "If the payload does not
 * contain an Object Instance ID, the LwM2M Client MUST assign one". In OMA-TLV that is a payload of
 * bare Resource TLVs; with an id it is one (or more) Object Instance TLVs. SenML and LwM2M CBOR
 * always name full paths, so they carry the id.
 */
import { Lwm2mBadPayloadError } from '../model/errors.js';
import type { ResourceNode } from '../model/node.js';
import { makePath } from '../model/path.js';
import { checkPayload, resolveLimits, type Lwm2mCodecOptions } from './common.js';
import { decodeNode } from './content-format.js';
import { decodeTlv } from './tlv.js';

export interface CreatedInstance {
  /** Undefined when the server left the id to the client. */
  readonly instanceId?: number;
  readonly resources: ReadonlyMap<number, ResourceNode>;
}

/** Decodes a Create payload for object `objectId` into the instance(s) to create. */
export function decodeCreatePayload(format: number, objectId: number, payload: Uint8Array, options: Lwm2mCodecOptions = {}): CreatedInstance[] {
  const limits = resolveLimits(options.limits);
  checkPayload(payload, limits);
  const objectPath = makePath(objectId);
  // TLV type bits 7-6 = 00 mark an Object Instance TLV; anything else starts bare resources.
  if (format === 11542 && payload.length > 0 && payload[0]! >> 6 !== 0) {
    const inst = decodeTlv(makePath(objectId, 0), payload, options);
    if (inst.kind !== 'instance') throw new Lwm2mBadPayloadError('a Create payload holds an object instance');
    return [{ resources: inst.resources }];
  }
  const node = decodeNode(format, objectPath, payload, options);
  if (node.kind !== 'object') throw new Lwm2mBadPayloadError('a Create payload holds object instances');
  if (node.instances.size === 0) {
    // An empty TLV body creates one instance without resources and without a chosen id.
    if (format === 11542) return [{ resources: new Map() }];
    throw new Lwm2mBadPayloadError('a Create payload names no object instance');
  }
  return [...node.instances.values()].map((i) => ({ instanceId: i.id, resources: i.resources }));
}

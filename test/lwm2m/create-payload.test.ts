// Create payloads (Core §6.3.5): with or without the new instance id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeCreatePayload } from '../../src/lwm2m/codec/create-payload.js';
import { encodeNode } from '../../src/lwm2m/codec/content-format.js';
import { makePath } from '../../src/lwm2m/model/path.js';
import { lwm2mValue as v, multipleResource, objectInstance, objectNode, singleResource } from '../../src/lwm2m/model/node.js';
import { hex, hostileBytes, onlyTypedErrors, registry, throwsCode } from './helpers.js';

const o = () => ({ registry: registry() });
const acl = objectInstance(4, [singleResource(0, v.integer(3)), singleResource(1, v.integer(0)), multipleResource(2, [[101, v.integer(1)]]), singleResource(3, v.integer(101))]);

test('TLV: bare resources leave the id to the client; an Object Instance TLV names it', () => {
  const bare = encodeNode(11542, makePath(2, 4), acl, o());
  assert.deepEqual(decodeCreatePayload(11542, 2, bare, o()), [{ resources: acl.resources }]);
  const wrapped = encodeNode(11542, makePath(2), objectNode(2, [acl]), o());
  assert.deepEqual(decodeCreatePayload(11542, 2, wrapped, o()), [{ instanceId: 4, resources: acl.resources }]);
  assert.deepEqual(decodeCreatePayload(11542, 2, new Uint8Array(0), o()), [{ resources: new Map() }]);
  // A resource after an instance TLV is malformed.
  throwsCode(() => decodeCreatePayload(11542, 2, hex('0004C10003C10100'), o()), 'ERR_LWM2M_BAD_PAYLOAD');
});

test('SenML and LwM2M CBOR carry the id in their paths', () => {
  for (const f of [110, 112, 11544]) {
    const bytes = encodeNode(f, makePath(2), objectNode(2, [acl]), o());
    assert.deepEqual(decodeCreatePayload(f, 2, bytes, o()), [{ instanceId: 4, resources: acl.resources }], String(f));
  }
  throwsCode(() => decodeCreatePayload(110, 2, new TextEncoder().encode('[]'), o()), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => decodeCreatePayload(0, 2, new TextEncoder().encode('1'), o()), 'ERR_LWM2M_UNSUPPORTED_FORMAT');
});

test('fuzz: hostile Create payloads only yield ERR_LWM2M_* errors', () => {
  const seeds = [encodeNode(11542, makePath(2, 4), acl, o()), encodeNode(11542, makePath(2), objectNode(2, [acl]), o()), encodeNode(112, makePath(2), objectNode(2, [acl]), o())];
  fc.assert(
    fc.property(hostileBytes(seeds), fc.constantFrom(11542, 110, 112, 11544), (bytes, f) => onlyTypedErrors(() => decodeCreatePayload(f, 2, bytes, o()))),
    { numRuns: 1000 },
  );
});

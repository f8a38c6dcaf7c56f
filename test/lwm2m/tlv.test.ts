// OMA-TLV (Core §7.4.3) against the spec's published examples, round trips and fuzzing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTlv, encodeTlv } from '../../src/lwm2m/codec/tlv.js';
import { parsePath, makePath } from '../../src/lwm2m/model/path.js';
import {
  lwm2mValue as v,
  multipleResource,
  objectInstance,
  objectNode,
  singleResource,
  type Lwm2mNode,
  type ObjectNode,
} from '../../src/lwm2m/model/node.js';
import {
  arbValue,
  firmwareObject,
  hex,
  hostileBytes,
  onlyTypedErrors,
  readVectors,
  registry,
  specDeviceInstance,
  throwsCode,
  toHex,
} from './helpers.js';

interface TlvVector {
  name: string;
  path: string;
  hex: string;
}
const { vectors } = readVectors<{ vectors: TlvVector[] }>('oma-tlv-examples.json');
const vec = (name: string) => vectors.find((x) => x.name === name)!;
const options = () => ({ registry: registry() });

test('spec examples decode to the expected trees and re-encode to the same bytes', () => {
  const device = specDeviceInstance();
  const expected: Record<string, Lwm2mNode> = {
    'device-object-instance-resources': device,
    'device-object-with-instance-tlv': objectNode(3, [device]),
    'access-control-two-instances': objectNode(2, [
      objectInstance(0, [
        singleResource(0, v.integer(1)),
        singleResource(1, v.integer(0)),
        multipleResource(2, [[127, v.integer(7)]]),
        singleResource(3, v.integer(127)),
      ]),
      objectInstance(2, [
        singleResource(0, v.integer(3)),
        singleResource(1, v.integer(0)),
        multipleResource(2, [[127, v.integer(7)], [310, v.integer(1)]]),
        singleResource(3, v.integer(127)),
      ]),
    ]),
    'server-one-instance': objectNode(1, [
      objectInstance(0, [
        singleResource(0, v.integer(1)),
        singleResource(1, v.unsigned(86400)),
        singleResource(6, v.boolean(true)),
        singleResource(7, v.string('U')),
      ]),
    ]),
    'object-65-objlnk-instance': objectInstance(0, [
      multipleResource(0, [[0, v.objlnk(66, 0)], [1, v.objlnk(66, 1)]]),
      singleResource(1, v.string('8613800755500')),
      singleResource(2, v.integer(305419896)),
    ]),
    'object-66-two-instances': objectNode(66, [
      objectInstance(0, [singleResource(0, v.string('myService 1')), singleResource(1, v.string('Internet.15.234')), singleResource(2, v.objlnk(67, 0))]),
      objectInstance(1, [singleResource(0, v.string('myService 2')), singleResource(1, v.string('Internet.15.235')), singleResource(2, v.objlnk(65535, 65535))]),
    ]),
  };
  assert.equal(vectors.length, Object.keys(expected).length);
  for (const x of vectors) {
    const path = parsePath(x.path);
    const decoded = decodeTlv(path, hex(x.hex), options());
    assert.deepEqual(decoded, expected[x.name], x.name);
    assert.equal(toHex(encodeTlv(path, decoded, options())), x.hex.toLowerCase(), x.name);
  }
});

test('an instance wrapped in its Object Instance TLV decodes at /o/i as well', () => {
  const node = decodeTlv(parsePath('/3/0'), hex(vec('device-object-with-instance-tlv').hex), options());
  assert.deepEqual(node, specDeviceInstance());
  throwsCode(() => decodeTlv(parsePath('/3/1'), hex(vec('device-object-with-instance-tlv').hex), options()), 'ERR_LWM2M_BAD_PAYLOAD');
});

test('single resources, resource instances and multiple resources at their own paths', () => {
  const o = options();
  const mr = multipleResource(6, [[0, v.integer(1)], [1, v.integer(5)]]);
  const bytes = encodeTlv(parsePath('/3/0/6'), mr, o);
  assert.equal(toHex(bytes), '8606410001410105');
  assert.deepEqual(decodeTlv(parsePath('/3/0/6'), bytes, o), mr);
  // Bare resource-instance TLVs for a multiple resource are accepted too.
  assert.deepEqual(decodeTlv(parsePath('/3/0/6'), hex('410001410105'), o), mr);
  assert.deepEqual(decodeTlv(parsePath('/3/0/6/1'), hex('410105'), o), { kind: 'resourceInstance', id: 1, value: v.integer(5) });
  assert.deepEqual(decodeTlv(parsePath('/3/0/11'), new Uint8Array(0), o), multipleResource(11, []));
  assert.deepEqual(decodeTlv(parsePath('/3/0/9'), hex('C10964'), o), singleResource(9, v.integer(100)));
  // Unknown resources keep their bytes.
  assert.deepEqual(decodeTlv(parsePath('/4000/0/1'), hex('C2010102'), o), singleResource(1, v.opaque(Uint8Array.of(1, 2))));
});

test('16-bit identifiers and 16/24-bit lengths', () => {
  const o = options();
  const big = new Uint8Array(70000).fill(7);
  const node = objectInstance(300, [singleResource(0, v.opaque(big))]);
  const bytes = encodeTlv(makePath(5, 300), node, o);
  assert.equal(toHex(bytes.subarray(0, 5)), 'd800011170');
  const obj = encodeTlv(makePath(5), objectNode(5, [node]), o);
  assert.equal(toHex(obj.subarray(0, 6)), '38012c011175');
  assert.deepEqual(decodeTlv(makePath(5), obj, o), objectNode(5, [node]));
});

test('encoders refuse values that contradict the object model', () => {
  const o = options();
  throwsCode(() => encodeTlv(parsePath('/3/0/9'), singleResource(9, v.string('100')), o), 'ERR_LWM2M_BAD_VALUE');
  throwsCode(() => encodeTlv(parsePath('/3/0/6'), singleResource(6, v.integer(1)), o), 'ERR_LWM2M_BAD_VALUE');
  throwsCode(() => encodeTlv(parsePath('/3/0/1'), singleResource(9, v.integer(1)), o), 'ERR_LWM2M_BAD_VALUE');
});

test('malformed TLV gives ERR_LWM2M_BAD_PAYLOAD', () => {
  const o = options();
  const bad: Array<[string, string]> = [
    ['/3/0', 'C8'], // truncated identifier
    ['/3/0', 'C800'], // truncated length field
    ['/3/0', 'C80014AA'], // value runs past the payload
    ['/3/0', 'C30964AABB'], // 3-byte integer
    ['/1/0', 'C10602'], // boolean 2
    ['/6/0', 'C2000102'], // 2-byte float
    ['/3/0', 'C10964C10965'], // resource given twice
    ['/3/0', '86064100014100'], // nested value cut short
    ['/3/0', 'C10664'], // single value for a multiple resource
    ['/3/0', '8609410001'], // multiple resource for a single one
    ['/3/0', '4100FF'], // resource instance at instance level
    ['/3', 'C10964'], // resource at object level
    ['/3/0', '0800C10964'], // an object instance TLV followed by a resource at /3/0
    ['/3/0', '080300'], // object instance 3 at /3/0
    ['/3/0', 'C1FF00C3FFFF'], // second TLV truncated
    ['/3/0', 'E8FFFF0100'], // 16-bit identifier 65535 (reserved)
    ['/3/0', 'C8020280FF'], // invalid UTF-8 in a string
    ['/3/0/6/1', '410005'], // resource instance id mismatch
    ['/3/0/9', 'C10A0F'], // resource id mismatch
  ];
  for (const [p, h] of bad) {
    throwsCode(() => decodeTlv(parsePath(p), hex(h), o), 'ERR_LWM2M_BAD_PAYLOAD');
  }
  throwsCode(() => decodeTlv(parsePath('/3/0'), hex('C10964'), { registry: registry(), limits: { maxPayloadLength: 2 } }), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => decodeTlv(parsePath('/3/0'), hex('C10964C10A0F'), { registry: registry(), limits: { maxEntries: 1 } }), 'ERR_LWM2M_BAD_PAYLOAD');
});

test('round trip: /3/0 Device, /5 Firmware and a multi-instance resource', () => {
  const o = options();
  for (const [p, node] of [
    ['/3/0', specDeviceInstance()],
    ['/5', firmwareObject()],
    ['/5/0', firmwareObject().instances.get(0)!],
    ['/5/0/8', firmwareObject().instances.get(0)!.resources.get(8)!],
  ] as const) {
    assert.deepEqual(decodeTlv(parsePath(p), encodeTlv(parsePath(p), node, o), o), node, p);
  }
});

// Random trees over an unknown object: values must carry their type back, so each resource id is
// given its type through a generated DDF.
const TYPE_OF_VALUE: Record<string, string> = {
  string: 'String',
  integer: 'Integer',
  unsigned: 'Unsigned Integer',
  float: 'Float',
  boolean: 'Boolean',
  opaque: 'Opaque',
  time: 'Time',
  objlnk: 'Objlnk',
};

function randomObjectArb() {
  return fc.uniqueArray(
    fc.tuple(fc.integer({ min: 0, max: 400 }), arbValue, fc.boolean(), fc.uniqueArray(fc.integer({ min: 0, max: 65534 }), { maxLength: 3 })),
    { minLength: 1, maxLength: 8, selector: ([id]) => id },
  );
}

test('property: random instances of a generated object survive encode → decode', async () => {
  const { ObjectRegistry } = await import('../../src/lwm2m/model/registry.js');
  fc.assert(
    fc.property(randomObjectArb(), fc.integer({ min: 0, max: 65534 }), (specs, instId) => {
      const items = specs
        .map(([id, val, multi]) => `<Item ID="${id}"><Name>r</Name><Operations>RW</Operations><MultipleInstances>${multi ? 'Multiple' : 'Single'}</MultipleInstances><Mandatory>Optional</Mandatory><Type>${TYPE_OF_VALUE[val.type]}</Type></Item>`)
        .join('');
      const reg = new ObjectRegistry({ builtins: false });
      reg.loadXml(`<LWM2M><Object><Name>R</Name><ObjectID>30000</ObjectID><MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Resources>${items}</Resources></Object></LWM2M>`);
      const resources = specs.map(([id, val, multi, ris]) =>
        multi ? multipleResource(id, ris.map((ri) => [ri, val] as const)) : singleResource(id, val),
      );
      const node: ObjectNode = objectNode(30000, [objectInstance(instId, resources)]);
      const o = { registry: reg };
      const back = decodeTlv(makePath(30000), encodeTlv(makePath(30000), node, o), o) as ObjectNode;
      assert.deepEqual(back, node);
    }),
    { numRuns: 150 },
  );
});

test('fuzz: random and mutated TLV only ever yields ERR_LWM2M_* errors', () => {
  const o = options();
  const seeds = vectors.map((x) => hex(x.hex));
  const paths = ['/3', '/3/0', '/3/0/6', '/3/0/6/0', '/2', '/1/0/1', '/65/0', '/66', '/4000/1'].map(parsePath);
  fc.assert(
    fc.property(hostileBytes(seeds), fc.constantFrom(...paths), (bytes, path) => onlyTypedErrors(() => decodeTlv(path, bytes, o))),
    { numRuns: 2000 },
  );
});

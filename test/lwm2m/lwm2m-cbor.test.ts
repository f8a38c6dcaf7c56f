// LwM2M CBOR (11544), Core 1.2 §7.4.6: nested maps from the root, path compression, round trips,
// fuzzing. The only published OMA example found is a fragment (one Server instance map, see
// test/vectors/lwm2m/oma-lwm2m-cbor-fragment.json); the other byte checks below follow the format's
// rules and are not copied vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeComposite, decodeNode, encodeComposite, encodeNode } from '../../src/lwm2m/codec/content-format.js';
import { makePath, parsePath } from '../../src/lwm2m/model/path.js';
import { lwm2mValue as v, multipleResource, objectInstance, singleResource } from '../../src/lwm2m/model/node.js';
import { arbGeneratedObject, firmwareObject, hex, hostileBytes, onlyTypedErrors, readVectors, registry, specDeviceInstance, throwsCode, toHex } from './helpers.js';

const F = 11544;
const o = () => ({ registry: registry() });

test('nested maps from the root, ids ascending', () => {
  // {3: {0: {9: 100}}}
  assert.equal(toHex(encodeNode(F, parsePath('/3/0/9'), singleResource(9, v.integer(100)), o())), 'a103a100a1091864');
  // {3: {0: {6: {0: 1, 1: 5}}}}
  assert.equal(toHex(encodeNode(F, parsePath('/3/0/6'), multipleResource(6, [[1, v.integer(5)], [0, v.integer(1)]]), o())), 'a103a100a106a200010105');
  // Float as binary32 when exact, objlnk as text, opaque as bytes, boolean, time as integer.
  const inst = objectInstance(0, [singleResource(0, v.float(1.5)), singleResource(12, v.boolean(true))]);
  assert.equal(toHex(encodeNode(F, parsePath('/6/0'), inst, o())), 'a106a100a200fa3fc000000cf5');
  assert.equal(toHex(encodeNode(F, parsePath('/3/0/22'), multipleResource(22, [[0, v.objlnk(3, 1)]]), o())), 'a103a100a116a10063333a31');
  // An empty instance is still answered with its path.
  assert.equal(toHex(encodeNode(F, parsePath('/3/0'), objectInstance(0, []), o())), 'a103a100a0');
});

test('decoding accepts path compression, tag 1 times, and refuses overlaps', () => {
  // {[3, 0]: {9: 100, 13: 1(1367491215)}}
  const bytes = hex('a1820300a20918640dc11a5182428f');
  assert.deepEqual(decodeNode(F, parsePath('/3/0'), bytes, o()), objectInstance(0, [singleResource(9, v.integer(100)), singleResource(13, v.time(1367491215))]));
  // {[3, 0, 9]: 100}
  assert.deepEqual(decodeNode(F, parsePath('/3/0/9'), hex('a1830300091864'), o()), singleResource(9, v.integer(100)));
  // {3: {0: {9: 1}}, [3, 0, 9]: 2}: /3/0/9 twice.
  throwsCode(() => decodeNode(F, parsePath('/3/0'), hex('a203a100a109018303000902'), o()), 'ERR_LWM2M_BAD_PAYLOAD');
});

test('composite: values and path lists (null leaves)', () => {
  const entries = [
    { path: parsePath('/3/0/0'), value: v.string('Open Mobile Alliance') },
    { path: parsePath('/3/0/9'), value: v.integer(95) },
    { path: parsePath('/1/0/1'), value: v.unsigned(86400) },
  ];
  const bytes = encodeComposite(F, entries, o());
  assert.deepEqual(decodeComposite(F, bytes, true, o()).sort((a, b) => (a.path.objectId! - b.path.objectId!)), [entries[2], entries[0], entries[1]]);
  const paths = [{ path: parsePath('/3/0') }, { path: parsePath('/1/0/1') }];
  const list = encodeComposite(F, paths, o());
  assert.equal(toHex(list), 'a201a100a101f603a100f6');
  assert.deepEqual(decodeComposite(F, list, false, o()), [paths[1], paths[0]]);
  throwsCode(() => decodeComposite(F, list, true, o()), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => encodeComposite(F, [{ path: parsePath('/3/0'), value: v.integer(1) }], o()), 'ERR_LWM2M_BAD_VALUE');
  throwsCode(() => encodeComposite(F, [{ path: parsePath('/3/0/9'), value: v.integer(1), time: 5 }], o()), 'ERR_LWM2M_BAD_VALUE');
  throwsCode(() => encodeComposite(F, [{ path: parsePath('/3/0') }, { path: parsePath('/3/0/9') }], o()), 'ERR_LWM2M_BAD_VALUE');
});

test('round trip: /3/0 Device, /5 Firmware, a multi-instance resource', () => {
  const fw = firmwareObject();
  for (const [p, node] of [
    ['/3/0', specDeviceInstance()],
    ['/5', fw],
    ['/5/0', fw.instances.get(0)!],
    ['/5/0/8', fw.instances.get(0)!.resources.get(8)!],
  ] as const) {
    assert.deepEqual(decodeNode(F, parsePath(p), encodeNode(F, parsePath(p), node, o()), o()), node, p);
  }
});

test('model contradictions and malformed payloads give ERR_LWM2M_BAD_PAYLOAD', () => {
  for (const h of [
    'a103a100a10963313030', // /3/0/9 as text
    'a103a100a106a1000161', // truncated
    'a103a100a10901a1', // trailing map header
    '80', // not a map
    'a103a100a1091b8000000000000000', // integer above int64 max
    'a103a100a1096178', // text where integer expected
    'a1f6a0', // null key
    'a103a100a10aa1', // truncated nested
    'a1831903e8000001', // {[1000, 0, 0]: 1}: outside /3/0
    'a18503000000000001', // path of 5 ids
    'a11a00010000a0', // id 65536
    'a103a100a10dc21a00', // tag 2 on time
  ]) {
    throwsCode(() => decodeNode(F, parsePath('/3/0'), hex(h), o()), 'ERR_LWM2M_BAD_PAYLOAD');
  }
});

test('property: random generated objects survive LwM2M CBOR', () => {
  fc.assert(
    fc.property(arbGeneratedObject(), ({ registry: reg, node }) => {
      const opts = { registry: reg };
      assert.deepEqual(decodeNode(F, makePath(30000), encodeNode(F, makePath(30000), node, opts), opts), node);
    }),
    { numRuns: 150 },
  );
});

test('fuzz: random and mutated LwM2M CBOR only ever yields ERR_LWM2M_* errors', () => {
  const seeds = [
    encodeNode(F, parsePath('/3/0'), specDeviceInstance(), o()),
    encodeNode(F, parsePath('/5'), firmwareObject(), o()),
    hex('a1820300a20918640dc11a5182428f'),
    hex('a201a100a101f603a100f6'),
  ];
  const paths = ['/3/0', '/3', '/5', '/5/0/8', '/3/0/6/1'].map(parsePath);
  fc.assert(
    fc.property(hostileBytes(seeds), fc.constantFrom(...paths), fc.integer({ min: 0, max: 2 }), (bytes, path, mode) =>
      onlyTypedErrors(() => (mode === 0 ? decodeNode(F, path, bytes, o()) : decodeComposite(F, bytes, mode === 1, o()))),
    ),
    { numRuns: 2000 },
  );
});

test('OMA 1.2 example fragment: a Server instance map is written byte for byte and read back', () => {
  const x = readVectors<{ instanceMapHex: string }>('oma-lwm2m-cbor-fragment.json');
  const inst = objectInstance(0, [
    singleResource(0, v.integer(101)),
    singleResource(1, v.unsigned(86400)),
    singleResource(2, v.integer(300)),
    singleResource(3, v.integer(6000)),
    singleResource(5, v.integer(86400)),
    singleResource(6, v.boolean(true)),
    singleResource(7, v.string('U')),
  ]);
  const inner = toHex(hex(x.instanceMapHex));
  // {1: {0: <instance map>}}: the nesting from the root that every LwM2M CBOR payload starts with.
  const full = 'a101a100' + inner;
  assert.equal(toHex(encodeNode(F, parsePath('/1/0'), inst, o())), full);
  assert.deepEqual(decodeNode(F, parsePath('/1/0'), hex(full), o()), inst);
});

// SenML JSON (110) and SenML CBOR (112), RFC 8428 with LwM2M Core §7.4.5, against the spec's
// Table 7.4.4-x examples; round trips; fuzzing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeComposite, decodeNode, encodeComposite, encodeNode } from '../../src/lwm2m/codec/content-format.js';
import type { Lwm2mEntry } from '../../src/lwm2m/codec/senml.js';
import { formatPath, makePath, parsePath } from '../../src/lwm2m/model/path.js';
import { lwm2mValue as v, multipleResource, singleResource } from '../../src/lwm2m/model/node.js';
import {
  arbGeneratedObject,
  arbJsonSafeValue,
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

interface SenmlVector {
  table: string;
  path?: string;
  json: string;
  cborHex: string;
}
const { vectors } = readVectors<{ vectors: SenmlVector[] }>('oma-senml-examples.json');
const vec = (table: string) => vectors.find((x) => x.table === table)!;
const o = () => ({ registry: registry() });
const JSON_F = 110;
const CBOR_F = 112;
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const both = (x: SenmlVector): Array<[number, Uint8Array]> => [
  [JSON_F, utf8(x.json)],
  [CBOR_F, hex(x.cborHex)],
];
const summary = (entries: Lwm2mEntry[]) => entries.map((e) => [formatPath(e.path), e.value, e.time]);

test('Table 7.4.4-2: Read /3/0 decodes to the Device tree and re-encodes byte for byte', () => {
  const x = vec('7.4.4-2');
  for (const [f, bytes] of both(x)) assert.deepEqual(decodeNode(f, parsePath('/3/0'), bytes, o()), specDeviceInstance());
  assert.equal(text(encodeNode(JSON_F, parsePath('/3/0'), specDeviceInstance(), o())), x.json);
  assert.equal(toHex(encodeNode(CBOR_F, parsePath('/3/0'), specDeviceInstance(), o())), x.cborHex);
});

test('Table 7.4.4-3: timestamped values resolve Base Time + Time', () => {
  for (const [f, bytes] of both(vec('7.4.4-3'))) {
    assert.deepEqual(summary(decodeComposite(f, bytes, true, o())), [
      ['/72/1/2', v.float(22.4), 25462629],
      ['/72/1/2', v.float(22.9), 25462604],
      ['/72/1/2', v.float(24.1), 25462584],
    ]);
    // One resource three times is a time series, not a node.
    throwsCode(() => decodeNode(f, parsePath('/72'), bytes, o()), 'ERR_LWM2M_BAD_PAYLOAD');
  }
});

test('Table 7.4.4-4: objlnk values ("vlo") across objects 65, 66, 67 from the root', () => {
  for (const [f, bytes] of both(vec('7.4.4-4'))) {
    const entries = summary(decodeComposite(f, bytes, true, o()));
    assert.equal(entries.length, 12);
    assert.deepEqual(entries[0], ['/65/0/0/0', v.objlnk(66, 0), undefined]);
    assert.deepEqual(entries[3], ['/65/0/2', v.integer(1), undefined]);
    assert.deepEqual(entries[9], ['/66/1/2', v.objlnk(65535, 65535), undefined]);
    assert.deepEqual(entries[11], ['/67/0/1', v.string('85.76.255.255'), undefined]);
  }
});

test('Table 7.4.4-5: a single resource, base name only', () => {
  const x = vec('7.4.4-5');
  const node = singleResource(0, v.string('Open Mobile Alliance'));
  for (const [f, bytes] of both(x)) {
    assert.deepEqual(decodeNode(f, parsePath('/3/0/0'), bytes, o()), node);
  }
  assert.equal(text(encodeNode(JSON_F, parsePath('/3/0/0'), node, o())), x.json);
  assert.equal(toHex(encodeNode(CBOR_F, parsePath('/3/0/0'), node, o())), x.cborHex);
});

test('Tables 7.4.4-6/-7/-8: Read-Composite request, response and Write-Composite', () => {
  const paths = ['/3/0/0', '/3/0/9', '/1/0/1'].map((p) => ({ path: parsePath(p) }));
  const resp: Lwm2mEntry[] = [
    { path: parsePath('/3/0/0'), value: v.string('Open Mobile Alliance') },
    { path: parsePath('/3/0/9'), value: v.integer(95) },
    { path: parsePath('/1/0/1'), value: v.unsigned(86400) },
  ];
  const write: Lwm2mEntry[] = [
    { path: parsePath('/3311/0/5850'), value: v.boolean(false) },
    { path: parsePath('/3311/1/5850'), value: v.boolean(false) },
    { path: parsePath('/3311/2/5851'), value: v.integer(20) },
    { path: parsePath('/3308/0/5900'), value: v.integer(18) },
  ];
  for (const [table, withValues, entries] of [
    ['7.4.4-6', false, paths],
    ['7.4.4-7', true, resp],
    ['7.4.4-8', true, write],
  ] as const) {
    const x = vec(table);
    for (const [f, bytes] of both(x)) assert.deepEqual(decodeComposite(f, bytes, withValues, o()), entries, table);
    assert.equal(toHex(encodeComposite(CBOR_F, entries, o())), x.cborHex, table);
    assert.deepEqual(JSON.parse(text(encodeComposite(JSON_F, entries, o()))), JSON.parse(x.json), table);
  }
  // A path list carries no values, and a value list needs them.
  throwsCode(() => decodeComposite(JSON_F, utf8(vec('7.4.4-7').json), false, o()), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => decodeComposite(JSON_F, utf8(vec('7.4.4-6').json), true, o()), 'ERR_LWM2M_BAD_PAYLOAD');
});

test('round trip in both formats: /3/0 Device, /5 Firmware, a multi-instance resource', () => {
  const fw = firmwareObject();
  const cases = [
    ['/3/0', specDeviceInstance()],
    ['/5', fw],
    ['/5/0', fw.instances.get(0)!],
    ['/5/0/8', fw.instances.get(0)!.resources.get(8)!],
    ['/3/0/6', multipleResource(6, [[0, v.integer(1)], [1, v.integer(5)]])],
    ['/5/0/8/3', { kind: 'resourceInstance' as const, id: 3, value: v.integer(3) }],
  ] as const;
  for (const f of [JSON_F, CBOR_F]) {
    for (const [p, node] of cases) assert.deepEqual(decodeNode(f, parsePath(p), encodeNode(f, parsePath(p), node, o()), o()), node, `${f} ${p}`);
  }
  // Opaque travels base64url in JSON ("vd"), as a byte string in CBOR.
  assert.match(text(encodeNode(JSON_F, parsePath('/5/0/0'), fw.instances.get(0)!.resources.get(0)!, o())), /"vd":"AAEC_v8"/);
});

test('the object model decides types; contradictions are refused', () => {
  throwsCode(() => decodeNode(JSON_F, parsePath('/3/0/9'), utf8('[{"bn":"/3/0/9","vs":"100"}]'), o()), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => decodeNode(JSON_F, parsePath('/3/0/9'), utf8('[{"bn":"/3/0/9","v":1.5}]'), o()), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => decodeNode(JSON_F, parsePath('/3/0/9'), utf8('[{"bn":"/3/0/9","v":9007199254740993}]'), o()), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => decodeNode(JSON_F, parsePath('/1/0/1'), utf8('[{"bn":"/1/0/1","v":-1}]'), o()), 'ERR_LWM2M_BAD_PAYLOAD');
  assert.deepEqual(decodeNode(JSON_F, parsePath('/6/0/0'), utf8('[{"bn":"/6/0/0","v":43}]'), o()), singleResource(0, v.float(43)));
  // Beyond 2^53 SenML CBOR stays exact.
  const big = encodeNode(CBOR_F, parsePath('/5/0/13'), singleResource(13, v.unsigned(2n ** 64n - 1n)), o());
  assert.deepEqual(decodeNode(CBOR_F, parsePath('/5/0/13'), big, o()), singleResource(13, v.unsigned(2n ** 64n - 1n)));
  throwsCode(() => encodeNode(JSON_F, parsePath('/3/0/9'), singleResource(9, v.float(1)), o()), 'ERR_LWM2M_BAD_VALUE');
});

test('SenML rules: base names, must-understand fields, base value, bad shapes', () => {
  const dec = (s: string, p = '/3/0') => decodeNode(JSON_F, parsePath(p), utf8(s), o());
  assert.deepEqual(dec('[{"bn":"/3/","n":"0/9","v":5},{"bn":"/3/0/1","vs":"x"}]'), { kind: 'instance', id: 0, resources: new Map([[9, singleResource(9, v.integer(5))], [1, singleResource(1, v.string('x'))]]) });
  for (const bad of [
    '{}',
    '[1]',
    '[{"n":"/3/0/9","v":1,"vs":"x"}]',
    '[{"n":"/3/0/9","v":"1"}]',
    '[{"n":"/3/0/9","v":1,"x_":1}]',
    '[{"n":"/3/0/9","v":1,"bv":2}]',
    '[{"v":1}]',
    '[{"n":"/3/0/9"}]',
    '[{"n":"/3/0","v":1}]',
    '[{"n":"/3/0/9x","v":1}]',
    '[{"n":"/3/0/22/0","vlo":"3:70000"}]',
    '[{"n":"/3/0/22/0","vlo":"3"}]',
    '[{"n":"/5/0/0","vd":"a+b/"}]',
    '[{"n":"/3/0/9","v":1,"bver":11}]',
    '[{"n":"/4/0/9","v":1}]',
    '[',
  ]) {
    throwsCode(() => dec(bad), 'ERR_LWM2M_BAD_PAYLOAD');
  }
  throwsCode(() => decodeNode(JSON_F, parsePath('/3/0'), Uint8Array.of(0xff), o()), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => decodeNode(JSON_F, parsePath('/3/0'), utf8('[{"n":"/3/0/9","v":1},{"n":"/3/0/10","v":1}]'), { registry: registry(), limits: { maxEntries: 1 } }), 'ERR_LWM2M_BAD_PAYLOAD');
  // SenML CBOR: a tag, a wrong label type, a non-array.
  for (const h of ['81a102c11a00000001', '81a10263616263', 'a0', '81a1f600', '8102']) {
    throwsCode(() => decodeNode(CBOR_F, parsePath('/3/0'), hex(h), o()), 'ERR_LWM2M_BAD_PAYLOAD');
  }
});

test('property: random generated objects survive both SenML formats', () => {
  fc.assert(
    fc.property(arbGeneratedObject(arbJsonSafeValue), fc.constantFrom(JSON_F, CBOR_F), ({ registry: reg, node }, f) => {
      const opts = { registry: reg };
      assert.deepEqual(decodeNode(f, makePath(30000), encodeNode(f, makePath(30000), node, opts), opts), node);
    }),
    { numRuns: 150 },
  );
});

test('fuzz: random and mutated SenML only ever yields ERR_LWM2M_* errors', () => {
  const paths = ['/3/0', '/3/0/0', '/3/0/6', '/72', '/65/0', '/1/0/1'].map(parsePath);
  const jsonSeeds = vectors.map((x) => utf8(x.json));
  const cborSeeds = vectors.map((x) => hex(x.cborHex));
  for (const [f, seeds] of [
    [JSON_F, jsonSeeds],
    [CBOR_F, cborSeeds],
  ] as const) {
    fc.assert(
      fc.property(hostileBytes(seeds), fc.constantFrom(...paths), fc.boolean(), (bytes, path, composite) =>
        onlyTypedErrors(() => (composite ? decodeComposite(f, bytes, path.objectId === 72, o()) : decodeNode(f, path, bytes, o()))),
      ),
      { numRuns: 1500 },
    );
  }
  fc.assert(fc.property(fc.json(), (s) => onlyTypedErrors(() => decodeNode(JSON_F, parsePath('/3/0'), utf8(s), o()))), { numRuns: 300 });
});

test('OMA issue #484: an objlnk in SenML CBOR uses the text label "vlo"', () => {
  const x = readVectors<{ json: string; cborHex: string }>('oma-senml-cbor-objlnk.json');
  const entries = [{ path: parsePath('/65/0/0/0'), value: v.objlnk(66, 0) }];
  assert.deepEqual(decodeComposite(JSON_F, utf8(x.json), true, o()), entries);
  assert.deepEqual(decodeComposite(CBOR_F, hex(x.cborHex), true, o()), entries);
  assert.equal(text(encodeComposite(JSON_F, entries, o())), x.json);
  assert.equal(toHex(encodeComposite(CBOR_F, entries, o())), toHex(hex(x.cborHex)));
});

test('encoders refuse a tree whose multiplicity contradicts the object model', () => {
  for (const f of [JSON_F, CBOR_F, 11544]) {
    throwsCode(() => encodeNode(f, parsePath('/3/0/9'), multipleResource(9, [[0, v.integer(1)]]), o()), 'ERR_LWM2M_BAD_VALUE');
    throwsCode(() => encodeNode(f, parsePath('/3/0/6'), singleResource(6, v.integer(1)), o()), 'ERR_LWM2M_BAD_VALUE');
    throwsCode(() => encodeComposite(f, [{ path: parsePath('/3/0/9/0'), value: v.integer(1) }], o()), 'ERR_LWM2M_BAD_VALUE');
  }
});

// text/plain (0), opaque (42), CoRE link format (40) for LwM2M, and the content-format dispatch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeNode, encodeNode, Lwm2mContentFormat } from '../../src/lwm2m/codec/content-format.js';
import { decodePlainText, encodePlainText } from '../../src/lwm2m/codec/plain-text.js';
import { formatLwm2mLinks, parseLwm2mLinks, parseRegistrationLinks } from '../../src/lwm2m/codec/link-format.js';
import { formatPath, parsePath, pathIds } from '../../src/lwm2m/model/path.js';
import { flattenNode, lwm2mValue as v, multipleResource, resourceInstance, singleResource, type Lwm2mValue } from '../../src/lwm2m/model/node.js';
import { arbValue, firmwareInstance, onlyTypedErrors, registry, specDeviceInstance, throwsCode } from './helpers.js';

const o = () => ({ registry: registry() });
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

test('plain text: the forms Core §7.4.1 gives each type', () => {
  const cases: Array<[Lwm2mValue, string]> = [
    [v.string('Open Mobile Alliance'), 'Open Mobile Alliance'],
    [v.integer(-42), '-42'],
    [v.integer(-(2n ** 63n)), '-9223372036854775808'],
    [v.unsigned(2n ** 64n - 1n), '18446744073709551615'],
    [v.float(-43.5723), '-43.5723'],
    [v.boolean(true), '1'],
    [v.boolean(false), '0'],
    [v.opaque(Uint8Array.of(1, 2, 3, 4, 5)), 'AQIDBAU='],
    [v.time(1367491215), '1367491215'],
    [v.objlnk(66, 0), '66:0'],
  ];
  for (const [value, t] of cases) {
    assert.equal(text(encodePlainText(value)), t);
    assert.deepEqual(decodePlainText(utf8(t), value.type), value);
  }
  for (const [t, type] of [
    ['1.5', 'integer'],
    ['9223372036854775808', 'integer'],
    ['-1', 'unsigned'],
    ['01', 'integer'],
    ['2', 'boolean'],
    ['true', 'boolean'],
    ['1e999', 'float'],
    ['NaN', 'float'],
    ['!,-INVALID$_\'', 'opaque'],
    ['66', 'objlnk'],
    ['66:70000', 'objlnk'],
  ] as const) {
    throwsCode(() => decodePlainText(utf8(t), type), 'ERR_LWM2M_BAD_PAYLOAD');
  }
  throwsCode(() => encodePlainText(v.float(Number.NaN)), 'ERR_LWM2M_BAD_VALUE');
  throwsCode(() => decodePlainText(Uint8Array.of(0xc3, 0x28), 'string'), 'ERR_LWM2M_BAD_PAYLOAD');
});

test('plain text and opaque through the dispatcher: single values only, typed by the model', () => {
  const bat = parsePath('/3/0/9');
  assert.deepEqual(decodeNode(0, bat, utf8('100'), o()), singleResource(9, v.integer(100)));
  assert.equal(text(encodeNode(0, bat, singleResource(9, v.integer(100)), o())), '100');
  assert.deepEqual(decodeNode(0, parsePath('/3/0/6/1'), utf8('5'), o()), { kind: 'resourceInstance', id: 1, value: v.integer(5) });
  const pkg = parsePath('/5/0/0');
  assert.deepEqual(decodeNode(42, pkg, Uint8Array.of(9, 8), o()), singleResource(0, v.opaque(Uint8Array.of(9, 8))));
  assert.deepEqual(encodeNode(42, pkg, singleResource(0, v.opaque(Uint8Array.of(9, 8))), o()), Uint8Array.of(9, 8));
  // Unsupported combinations are ERR_LWM2M_UNSUPPORTED_FORMAT (4.15 / 4.06), not bad payloads.
  throwsCode(() => decodeNode(0, parsePath('/3/0'), utf8('x'), o()), 'ERR_LWM2M_UNSUPPORTED_FORMAT');
  throwsCode(() => decodeNode(0, parsePath('/3/0/6'), utf8('1'), o()), 'ERR_LWM2M_UNSUPPORTED_FORMAT');
  throwsCode(() => decodeNode(42, bat, utf8('100'), o()), 'ERR_LWM2M_UNSUPPORTED_FORMAT');
  throwsCode(() => encodeNode(42, bat, singleResource(9, v.integer(100)), o()), 'ERR_LWM2M_UNSUPPORTED_FORMAT');
  throwsCode(() => encodeNode(0, parsePath('/3/0'), specDeviceInstance(), o()), 'ERR_LWM2M_UNSUPPORTED_FORMAT');
  throwsCode(() => encodeNode(0, parsePath('/3/0/6'), multipleResource(6, [[0, v.integer(1)]]), o()), 'ERR_LWM2M_UNSUPPORTED_FORMAT');
  for (const f of [Lwm2mContentFormat.Lwm2mJson, Lwm2mContentFormat.LinkFormat, 50, 65000]) {
    throwsCode(() => decodeNode(f, parsePath('/3/0'), utf8('{}'), o()), 'ERR_LWM2M_UNSUPPORTED_FORMAT');
    throwsCode(() => encodeNode(f, parsePath('/3/0'), specDeviceInstance(), o()), 'ERR_LWM2M_UNSUPPORTED_FORMAT');
  }
});

test('round trip: every leaf of /3/0 Device and /5/0 Firmware through text/plain, opaque leaves through 42', () => {
  for (const [base, inst] of [
    ['/3/0', specDeviceInstance()],
    ['/5/0', firmwareInstance()],
  ] as const) {
    for (const leaf of flattenNode(parsePath(base), inst)) {
      const ids = pathIds(leaf.path);
      const node = ids.length === 4 ? resourceInstance(ids[3]!, leaf.value) : singleResource(ids[2]!, leaf.value);
      const formats = leaf.value.type === 'opaque' ? [0, 42] : [0];
      for (const f of formats) assert.deepEqual(decodeNode(f, leaf.path, encodeNode(f, leaf.path, node, o()), o()), node, `${f} ${formatPath(leaf.path)}`);
    }
  }
});

test('property: every value round-trips through plain text (finite floats)', () => {
  fc.assert(
    fc.property(arbValue, (value) => {
      assert.deepEqual(decodePlainText(encodePlainText(value), value.type), value);
    }),
    { numRuns: 500 },
  );
});

test('link format: Register payload with alternate path, content formats and versions', () => {
  const reg = parseRegistrationLinks('</lwm2m>;rt="oma.lwm2m";ct="60 110 112 11542 11543",</lwm2m/1/0>,</lwm2m/3/0>;ver=1.1,</lwm2m/5>,</lwm2m/3303/0>,</lwm2m/3303/1>');
  assert.equal(reg.rootPath, '/lwm2m');
  assert.deepEqual(reg.contentFormats, [60, 110, 112, 11542, 11543]);
  assert.deepEqual([...reg.objects], [
    [1, { instances: [0] }],
    [3, { version: '1.1', instances: [0] }],
    [5, { instances: [] }],
    [3303, { instances: [0, 1] }],
  ]);
  // The interop Register payload.
  assert.deepEqual([...parseRegistrationLinks(utf8('</1/0>,</3/0>,</5/0>')).objects.keys()], [1, 3, 5]);
  throwsCode(() => parseRegistrationLinks('</3/0/1>'), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => parseRegistrationLinks('</3/0>,</3/0>'), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => parseRegistrationLinks('</foo>'), 'ERR_LWM2M_BAD_PAYLOAD');
});

test('link format: Discover attributes parsed, checked and written back', () => {
  const payload = '</3/0>;pmin=10;pmax=60,</3/0/1>,</3/0/6>;dim=8,</3/0/7>;dim=8;gt=50;lt=42.2,</0/1>;ssid=101;uri="coaps://server_1.example.com"';
  const links = parseLwm2mLinks(payload);
  assert.deepEqual(links.map((l) => formatPath(l.path!)), ['/3/0', '/3/0/1', '/3/0/6', '/3/0/7', '/0/1']);
  assert.deepEqual(links[0]!.attributes, { pmin: 10, pmax: 60 });
  assert.deepEqual(links[3]!.attributes, { dim: 8, gt: 50, lt: 42.2 });
  assert.deepEqual(links[4]!.attributes, { ssid: 101, uri: 'coaps://server_1.example.com' });
  assert.equal(text(formatLwm2mLinks(links)), payload);
  assert.equal(text(formatLwm2mLinks([{ target: '', path: parsePath('/3/0'), attributes: { ver: '1.1' } }])), '</3/0>;ver=1.1');
  for (const bad of ['</3/0>;pmin=-1', '</3/0>;pmin=1.5', '</3/0>;gt=abc', '</3/0>;st=-1', '</3/0>;dim=70000', '</3/0>;ssid=0', '</3/0>;ssid=65535', '</3/0>;ver=1', '</3/0>;pmin', '</3/0>;pmin=1;pmin=2', '</3/0>;lt=10;gt=5', '</3/0>;lt=1;gt=5;st=3', '<3/0', '</3/0>;', '</3/0>,,']) {
    throwsCode(() => parseLwm2mLinks(bad), 'ERR_LWM2M_BAD_PAYLOAD');
  }
  throwsCode(() => formatLwm2mLinks([{ target: '', path: parsePath('/3'), attributes: { pmin: -1 } }]), 'ERR_LWM2M_BAD_VALUE');
});

test('fuzz: plain text and link format only ever yield ERR_LWM2M_* errors', () => {
  const types = ['string', 'integer', 'unsigned', 'float', 'boolean', 'opaque', 'time', 'objlnk', 'corelnk'] as const;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(...types), (bytes, type) => onlyTypedErrors(() => decodePlainText(bytes, type))),
    { numRuns: 500 },
  );
  const seed = '</lwm2m>;rt="oma.lwm2m";ct="60 110",</lwm2m/1/0>,</lwm2m/3/0>;ver=1.1;pmin=10;gt=5.5;lt=1;st=1;dim=3;ssid=1;uri="x"';
  const mutated = fc.tuple(fc.nat(), fc.string({ maxLength: 4 }), fc.boolean()).map(([pos, s, cut]) => {
    const at = pos % seed.length;
    return cut ? seed.slice(0, at) : seed.slice(0, at) + s + seed.slice(at);
  });
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 80 }), mutated), (s) => onlyTypedErrors(() => parseRegistrationLinks(s)) && onlyTypedErrors(() => parseLwm2mLinks(s))),
    { numRuns: 1000 },
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => onlyTypedErrors(() => parseLwm2mLinks(b))), { numRuns: 300 });
});

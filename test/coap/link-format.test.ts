import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseLinkFormat, serializeLinkFormat, type Link } from '../../src/coap/link-format.js';
import { CoapLinkFormatError } from '../../src/coap/errors.js';

test('RFC 6690 §5 examples parse', () => {
  const links = parseLinkFormat('</sensors/temp>;if="sensor",</sensors/light>;if="sensor"');
  assert.deepEqual(links, [
    { target: '/sensors/temp', attributes: [{ name: 'if', value: 'sensor' }] },
    { target: '/sensors/light', attributes: [{ name: 'if', value: 'sensor' }] },
  ]);
  const l2 = parseLinkFormat('</sensors>;ct=40;title="Sensor Index",\n</sensors/temp>;rt="temperature-c";if="sensor";obs,</t>;anchor="/sensors/temp";rel="describedby"');
  assert.equal(l2.length, 3);
  assert.deepEqual(l2[0]!.attributes, [{ name: 'ct', value: '40' }, { name: 'title', value: 'Sensor Index' }]);
  assert.deepEqual(l2[1]!.attributes[2], { name: 'obs' });
  assert.deepEqual(parseLinkFormat(''), []);
});

test('LwM2M registration payload style', () => {
  const text = '</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</5/0>';
  const links = parseLinkFormat(text);
  assert.deepEqual(links.map((l) => l.target), ['/', '/1/0', '/3/0', '/5/0']);
  assert.equal(serializeLinkFormat(links), text);
});

test('quoted strings with escapes and commas round trip', () => {
  const links: Link[] = [{ target: '/a', attributes: [{ name: 'title', value: 'x, "y"; \\z' }, { name: 'sz', value: '1024' }] }];
  const text = serializeLinkFormat(links);
  assert.equal(text, '</a>;title="x, \\"y\\"; \\\\z";sz=1024');
  assert.deepEqual(parseLinkFormat(text), links);
});

test('malformed link format gives ERR_COAP_LINK_FORMAT with an offset', () => {
  for (const bad of ['/a', '</a', '</a>;', '</a>;rt="x', '</a>x', '</a>;rt=', '</a>,', '</a b>', '</a>;rt="\\']) {
    assert.throws(() => parseLinkFormat(bad), (e: unknown) => e instanceof CoapLinkFormatError && e.code === 'ERR_COAP_LINK_FORMAT', bad);
  }
  assert.throws(() => parseLinkFormat('</a>,'.repeat(10) + '</b>', { maxLinks: 5 }), { code: 'ERR_COAP_LINK_FORMAT' });
  assert.throws(() => parseLinkFormat('</a>', { maxLength: 2 }), { code: 'ERR_COAP_LINK_FORMAT' });
  assert.throws(() => serializeLinkFormat([{ target: '/a', attributes: [{ name: 'a b' }] }]), { code: 'ERR_COAP_LINK_FORMAT' });
});

const nameArb = fc.stringMatching(/^[a-z][a-z0-9.-]{0,7}$/);
const linkArb: fc.Arbitrary<Link> = fc.record({
  target: fc.stringMatching(/^\/[a-z0-9/._-]{0,20}$/),
  attributes: fc.array(
    fc.oneof(
      nameArb.map((name) => ({ name })),
      fc.tuple(nameArb, fc.string({ maxLength: 20 })).map(([name, value]) => ({ name, value })),
    ),
    { maxLength: 5 },
  ),
}).map((l) => ({ target: l.target, attributes: l.attributes }));

test('fuzz: serialise → parse round trips', () => {
  fc.assert(
    fc.property(fc.array(linkArb, { maxLength: 6 }), (links) => {
      assert.deepEqual(parseLinkFormat(serializeLinkFormat(links)), links);
    }),
    { numRuns: 500 },
  );
});

test('fuzz: random and mutated text only yields ERR_COAP_LINK_FORMAT', () => {
  const check = (text: string): void => {
    try {
      parseLinkFormat(text);
    } catch (e) {
      assert.ok(e instanceof CoapLinkFormatError, String(e));
    }
  };
  fc.assert(fc.property(fc.string({ maxLength: 200 }), check), { numRuns: 2000 });
  fc.assert(
    fc.property(fc.array(linkArb, { minLength: 1, maxLength: 4 }), fc.nat(), fc.string({ maxLength: 3 }), (links, pos, ins) => {
      const t = serializeLinkFormat(links);
      const p = pos % (t.length + 1);
      check(t.slice(0, p) + ins + t.slice(p + 1));
    }),
    { numRuns: 2000 },
  );
});

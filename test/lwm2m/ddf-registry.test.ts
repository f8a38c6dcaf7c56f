import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseDdf } from '../../src/lwm2m/model/ddf.js';
import { BUILTIN_OBJECT_IDS, ObjectRegistry } from '../../src/lwm2m/model/registry.js';
import { onlyTypedErrors, throwsCode } from './helpers.js';

const OBJECTS = join(import.meta.dirname, '..', '..', 'src', 'lwm2m', 'objects');

function minimal(body: string, objectExtra = ''): string {
  return `<LWM2M><Object><Name>T</Name><ObjectID>4000</ObjectID>${objectExtra}<MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Resources>${body}</Resources></Object></LWM2M>`;
}

const ITEM = (id: string, type = 'Integer', ops = 'R', multi = 'Single') =>
  `<Item ID="${id}"><Name>r${id}</Name><Operations>${ops}</Operations><MultipleInstances>${multi}</MultipleInstances><Mandatory>Optional</Mandatory><Type>${type}</Type></Item>`;

test('every shipped OMA DDF file parses and keeps the OMA license header', () => {
  const reg = new ObjectRegistry();
  assert.deepEqual(reg.objectIds(), [...BUILTIN_OBJECT_IDS]);
  for (const id of BUILTIN_OBJECT_IDS) {
    const text = readFileSync(join(OBJECTS, `${id}.xml`), 'utf8');
    assert.match(text, /Redistribution and use in source and binary forms/);
    assert.equal(reg.get(id)!.id, id);
  }
});

test('Device (3) definition: names, types, multiplicity, operations as in 3.xml', () => {
  const dev = new ObjectRegistry().get(3)!;
  assert.equal(dev.name, 'Device');
  assert.equal(dev.urn, 'urn:oma:lwm2m:oma:3:1.2');
  assert.equal(dev.version, '1.2');
  assert.equal(dev.lwm2mVersion, '1.1');
  assert.equal(dev.multiple, false);
  assert.equal(dev.mandatory, true);
  assert.equal(dev.resources.size, 23);
  const r = (id: number) => dev.resources.get(id)!;
  assert.equal(r(0).name, 'Manufacturer');
  assert.equal(r(4).type, 'none');
  assert.deepEqual(r(4).operations, { read: false, write: false, execute: true });
  assert.equal(r(6).multiple, true);
  assert.equal(r(6).rangeEnumeration, '0..7');
  assert.equal(r(9).units, '/100');
  assert.equal(r(13).type, 'time');
  assert.deepEqual(r(13).operations, { read: true, write: true, execute: false });
  assert.equal(r(22).type, 'objlnk');
  assert.match(r(5).description, /IDevID/);
});

test('other shipped definitions carry the types the codecs depend on', () => {
  const reg = new ObjectRegistry();
  assert.equal(reg.getResource(0, 0)!.operationsText, '');
  assert.equal(reg.getResource(0, 3)!.type, 'opaque');
  assert.equal(reg.getResource(1, 1)!.type, 'unsigned');
  assert.equal(reg.getResource(1, 6)!.type, 'boolean');
  assert.equal(reg.getResource(2, 2)!.multiple, true);
  assert.equal(reg.getResource(4, 4)!.multiple, true);
  assert.equal(reg.getResource(5, 0)!.type, 'opaque');
  assert.equal(reg.getResource(5, 13)!.type, 'unsigned');
  assert.equal(reg.getResource(6, 0)!.type, 'float');
  assert.equal(reg.getResource(6, 12)!.type, 'boolean'); // 6.xml lists <Type> before <Operations>
  assert.equal(reg.get(6)!.version, '1.1');
  assert.equal(reg.get(7)!.name, 'Connectivity Statistics');
  assert.equal(reg.getResource(9, 21)!.type, 'unsigned');
  assert.equal(reg.get(9)!.resources.size, 23);
  assert.equal(reg.get(33629), undefined);
});

test('versions: lookup by version, highest by default, user files replace or add versions', () => {
  const reg = new ObjectRegistry();
  const v10 = minimal(ITEM('0'), '<ObjectVersion>1.0</ObjectVersion>');
  const v11 = minimal(ITEM('0', 'String'), '<ObjectVersion>1.1</ObjectVersion>');
  reg.loadXml(v11);
  reg.loadXml(v10);
  assert.deepEqual(reg.versions(4000), ['1.0', '1.1']);
  assert.equal(reg.get(4000)!.version, '1.1');
  assert.equal(reg.getResource(4000, 0, '1.0')!.type, 'integer');
  assert.equal(reg.getResource(4000, 0)!.type, 'string');
  assert.equal(reg.get(4000, '2.0'), undefined);
});

test('loadDirectory adds user files; a bad file names itself and leaves the registry unchanged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-ddf-'));
  try {
    writeFileSync(join(dir, 'a.xml'), minimal(ITEM('0', 'Float')));
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const reg = new ObjectRegistry({ builtins: false });
    assert.equal(reg.loadDirectory(dir).length, 1);
    assert.equal(reg.getResource(4000, 0)!.type, 'float');
    writeFileSync(join(dir, 'b.xml'), minimal(ITEM('1', 'Widget')).replace('4000', '4001'));
    const fresh = new ObjectRegistry({ builtins: false });
    assert.throws(() => fresh.loadDirectory(dir), (e: Error & { code?: string }) => e.code === 'ERR_LWM2M_BAD_DDF' && /b\.xml/.test(e.message));
    assert.deepEqual(fresh.objectIds(), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed and out-of-schema DDF give ERR_LWM2M_BAD_DDF', () => {
  const bad = [
    '<LWM2M><Object>',
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><LWM2M/>',
    '<Other/>',
    '<LWM2M></LWM2M>',
    minimal(ITEM('0')).replace('<ObjectID>4000</ObjectID>', ''),
    minimal(ITEM('0')).replace('4000', '65535'),
    minimal(ITEM('0')).replace('4000', '-1'),
    minimal(ITEM('0', 'Widget')),
    minimal(ITEM('0', 'Integer', 'RWX')),
    minimal(ITEM('0', 'Integer', 'E')),
    minimal(ITEM('0', '', 'R')),
    minimal(ITEM('0', 'Integer', 'R', 'Some')),
    minimal(ITEM('0') + ITEM('0')),
    minimal(ITEM('x')),
    minimal(ITEM('0')).replace('<Mandatory>Optional</Mandatory><Resources>', '<Mandatory>Maybe</Mandatory><Resources>'),
    minimal(ITEM('0'), '<ObjectVersion>v1</ObjectVersion>'),
    minimal(ITEM('0')).replace('<Name>r0</Name>', '<Name>&#0;</Name>'),
  ];
  for (const xml of bad) throwsCode(() => parseDdf(xml), 'ERR_LWM2M_BAD_DDF');
  throwsCode(() => parseDdf(Uint8Array.of(0x3c, 0xff, 0xfe)), 'ERR_LWM2M_BAD_DDF');
  throwsCode(() => parseDdf(minimal(ITEM('0') + ITEM('1')), { maxResources: 1 }), 'ERR_LWM2M_BAD_DDF');
  throwsCode(() => parseDdf(minimal(ITEM('0')), { maxLength: 20 }), 'ERR_LWM2M_BAD_DDF');
});

test('predefined XML escapes are decoded, nothing else is expanded', () => {
  const [def] = parseDdf(minimal(ITEM('0')).replace('<Name>T</Name>', '<Name>A &amp; B &lt;x&gt; &#65;</Name>'));
  assert.equal(def!.name, 'A & B <x> A');
});

test('fuzz: random and mutated DDF text only ever gives ERR_LWM2M_BAD_DDF', () => {
  const seed = minimal(ITEM('0') + ITEM('1', 'String', 'RW', 'Multiple'));
  const mutated = fc.tuple(fc.nat(), fc.string({ maxLength: 6 }), fc.nat({ max: 2 })).map(([pos, s, op]) => {
    const at = pos % seed.length;
    if (op === 0) return seed.slice(0, at) + s + seed.slice(at);
    if (op === 1) return seed.slice(0, at);
    return seed.slice(0, at) + seed.slice(at + 1 + (pos % 5));
  });
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 200 }), mutated), (xml) => onlyTypedErrors(() => parseDdf(xml))),
    { numRuns: 400 },
  );
});

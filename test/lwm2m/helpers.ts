// Shared fixtures for the LwM2M model and codec tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ObjectRegistry } from '../../src/lwm2m/model/registry.js';
import {
  lwm2mValue as v,
  multipleResource,
  objectInstance,
  objectNode,
  singleResource,
  type Lwm2mValue,
  type ObjectInstanceNode,
} from '../../src/lwm2m/model/node.js';
import { isRootlineError } from '../../src/errors.js';

export const VECTORS = join(import.meta.dirname, '..', 'vectors', 'lwm2m');

export function readVectors<T>(name: string): T {
  return JSON.parse(readFileSync(join(VECTORS, name), 'utf8')) as T;
}

export function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

// Objects 65 and 66 of the OMA spec's Objlnk TLV example (TS 1.0 Figure 28): the spec defines
// them only for that example, so the test describes them in DDF form.
const OBJLNK_EXAMPLE_DDF = `<?xml version="1.0" encoding="UTF-8"?>
<LWM2M>
  <Object ObjectType="MODefinition"><Name>object link tests 65</Name><ObjectID>65</ObjectID>
    <MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>
    <Resources>
      <Item ID="0"><Name>res0</Name><Operations>R</Operations><MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Type>Objlnk</Type></Item>
      <Item ID="1"><Name>res1</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>String</Type></Item>
      <Item ID="2"><Name>res2</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>Integer</Type></Item>
    </Resources></Object>
  <Object ObjectType="MODefinition"><Name>object link tests 66</Name><ObjectID>66</ObjectID>
    <MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>
    <Resources>
      <Item ID="0"><Name>res0</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>String</Type></Item>
      <Item ID="1"><Name>res1</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>String</Type></Item>
      <Item ID="2"><Name>res2</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>Objlnk</Type></Item>
    </Resources></Object>
</LWM2M>`;

let shared: ObjectRegistry | undefined;

/** Built-in OMA objects plus the spec's example objects 65 and 66. */
export function registry(): ObjectRegistry {
  if (shared === undefined) {
    shared = new ObjectRegistry();
    shared.loadXml(OBJLNK_EXAMPLE_DDF);
  }
  return shared;
}

/** /3/0 as in the OMA spec's Device examples (TLV §7.4.3, SenML §7.4.5). */
export function specDeviceInstance(): ObjectInstanceNode {
  return objectInstance(0, [
    singleResource(0, v.string('Open Mobile Alliance')),
    singleResource(1, v.string('Lightweight M2M Client')),
    singleResource(2, v.string('345000123')),
    singleResource(3, v.string('1.0')),
    multipleResource(6, [[0, v.integer(1)], [1, v.integer(5)]]),
    multipleResource(7, [[0, v.integer(3800)], [1, v.integer(5000)]]),
    multipleResource(8, [[0, v.integer(125)], [1, v.integer(900)]]),
    singleResource(9, v.integer(100)),
    singleResource(10, v.integer(15)),
    multipleResource(11, [[0, v.integer(0)]]),
    singleResource(13, v.time(1367491215)),
    singleResource(14, v.string('+02:00')),
    singleResource(16, v.string('U')),
  ]);
}

/** /5/0 Firmware Update with every readable type the object uses. */
export function firmwareInstance(): ObjectInstanceNode {
  return objectInstance(0, [
    singleResource(0, v.opaque(Uint8Array.of(0, 1, 2, 0xfe, 0xff))),
    singleResource(1, v.string('coaps://fw.example.org/pkg/1.2.3')),
    singleResource(3, v.integer(2)),
    singleResource(5, v.integer(0)),
    singleResource(6, v.string('rootline-fw')),
    singleResource(7, v.string('1.2.3')),
    multipleResource(8, [[0, v.integer(0)], [1, v.integer(1)], [3, v.integer(3)]]),
    singleResource(9, v.integer(2)),
    singleResource(11, v.integer(1)),
    singleResource(12, v.time(1700000000)),
    singleResource(13, v.unsigned(86400)),
  ]);
}

export function firmwareObject() {
  return objectNode(5, [firmwareInstance()]);
}

/** Asserts `fn` throws a RootlineError with the given code. */
export function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => {
    if (!isRootlineError(err)) return false;
    assert.equal(err.code, code, err.message);
    return true;
  });
}

/** Runs `fn` on hostile input: it may return or throw an ERR_LWM2M_* error, nothing else. */
export function onlyTypedErrors(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (isRootlineError(err) && err.code.startsWith('ERR_LWM2M_')) return true;
    throw err;
  }
}

/** Random bytes, plus mutations (flip, cut, splice) of the given seeds. */
export function hostileBytes(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const mutated = fc
    .tuple(fc.constantFrom(...seeds), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 3 }))
    .map(([seed, pos, byte, op]) => {
      const b = Uint8Array.from(seed);
      if (b.length === 0) return Uint8Array.of(byte);
      const at = pos % b.length;
      if (op === 0) b[at] = byte;
      else if (op === 1) return b.subarray(0, at);
      else if (op === 2) b[at] = b[at]! ^ (1 << (byte % 8));
      else return Uint8Array.from([...b.subarray(0, at), byte, ...b.subarray(at)]);
      return b;
    });
  return fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated);
}

/** Random valid values of each LwM2M type. */
export const arbValue: fc.Arbitrary<Lwm2mValue> = fc.oneof(
  fc.string({ maxLength: 40 }).map((s) => v.string(s.replace(/[\uD800-\uDFFF]/g, 'x'))),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((b) => v.integer(normalize(b))),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((b) => v.unsigned(normalize(b))),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => v.float(Object.is(d, -0) ? 0 : d)),
  fc.boolean().map((b) => v.boolean(b)),
  fc.uint8Array({ maxLength: 40 }).map((b) => v.opaque(b)),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((t) => v.time(t)),
  fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 })).map(([o, i]) => v.objlnk(o, i)),
);

function normalize(b: bigint): number | bigint {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

const TYPE_NAME: Record<string, string> = {
  string: 'String',
  integer: 'Integer',
  unsigned: 'Unsigned Integer',
  float: 'Float',
  boolean: 'Boolean',
  opaque: 'Opaque',
  time: 'Time',
  objlnk: 'Objlnk',
};

/**
 * A random object 30000 with one instance, and a registry whose generated DDF gives each resource
 * the type and multiplicity of its value (so formats without types can read it back).
 */
export function arbGeneratedObject(valueArb: fc.Arbitrary<Lwm2mValue> = arbValue) {
  return fc
    .tuple(
      fc.uniqueArray(
        fc.tuple(fc.integer({ min: 0, max: 400 }), valueArb, fc.boolean(), fc.uniqueArray(fc.integer({ min: 0, max: 65534 }), { minLength: 1, maxLength: 3 })),
        { minLength: 1, maxLength: 8, selector: ([id]) => id },
      ),
      fc.integer({ min: 0, max: 65534 }),
    )
    .map(([specs, instId]) => {
      const items = specs
        .map(
          ([id, val, multi]) =>
            `<Item ID="${id}"><Name>r</Name><Operations>RW</Operations><MultipleInstances>${multi ? 'Multiple' : 'Single'}</MultipleInstances><Mandatory>Optional</Mandatory><Type>${TYPE_NAME[val.type]}</Type></Item>`,
        )
        .join('');
      const reg = new ObjectRegistry({ builtins: false });
      reg.loadXml(
        `<LWM2M><Object><Name>R</Name><ObjectID>30000</ObjectID><MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Resources>${items}</Resources></Object></LWM2M>`,
      );
      const resources = specs.map(([id, val, multi, ris]) => (multi ? multipleResource(id, ris.map((ri) => [ri, val] as const)) : singleResource(id, val)));
      return { registry: reg, node: objectNode(30000, [objectInstance(instId, resources)]) };
    });
}

/** Values JSON numbers carry exactly (integers within ±2^53). */
export const arbJsonSafeValue: fc.Arbitrary<Lwm2mValue> = arbValue.filter(
  (x) => !((x.type === 'integer' || x.type === 'unsigned' || x.type === 'time') && typeof x.value === 'bigint'),
);

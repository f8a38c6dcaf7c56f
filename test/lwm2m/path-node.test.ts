import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { comparePaths, formatPath, makePath, parsePath, pathLevel, pathStartsWith } from '../../src/lwm2m/model/path.js';
import { buildNode, checkValue, flattenNode, lwm2mValue as v, multipleResource, objectInstance, singleResource } from '../../src/lwm2m/model/node.js';
import { onlyTypedErrors, specDeviceInstance, throwsCode } from './helpers.js';

test('paths: parse and format every level', () => {
  assert.deepEqual(parsePath('/'), {});
  assert.deepEqual(parsePath('/3'), { objectId: 3 });
  assert.deepEqual(parsePath('3/0/'), { objectId: 3, instanceId: 0 });
  assert.deepEqual(parsePath('/3/0/11/0'), { objectId: 3, instanceId: 0, resourceId: 11, resourceInstanceId: 0 });
  assert.equal(formatPath(parsePath('/65534/65534/65534/65534')), '/65534/65534/65534/65534');
  assert.equal(formatPath(makePath()), '/');
  assert.equal(pathLevel(parsePath('/3/0/1')), 'resource');
  assert.equal(pathLevel(parsePath('/')), 'root');
  assert.ok(pathStartsWith(parsePath('/3/0/1'), parsePath('/3')));
  assert.ok(!pathStartsWith(parsePath('/3'), parsePath('/3/0')));
  assert.ok(comparePaths(parsePath('/3/0/2'), parsePath('/3/0/10')) < 0);
});

test('paths: 65535 is reserved, and malformed text is refused', () => {
  for (const bad of ['/65535', '/3/65535', '/1/2/3/4/5', '/03', '/-1', '/3//1', '/a', '/3/0/1.5', '/ 3', '/99999']) {
    throwsCode(() => parsePath(bad), 'ERR_LWM2M_BAD_PATH');
  }
  throwsCode(() => makePath(1, 2, 65535), 'ERR_LWM2M_BAD_PATH');
  throwsCode(() => formatPath({ objectId: 1, resourceId: 2 }), 'ERR_LWM2M_BAD_PATH');
});

test('paths: format(parse(x)) round-trips; random text gives only ERR_LWM2M_BAD_PATH', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 65534 }), { maxLength: 4 }), (ids) => {
      const p = makePath(...ids);
      assert.deepEqual(parsePath(formatPath(p)), p);
    }),
  );
  fc.assert(fc.property(fc.string({ maxLength: 30 }), (s) => onlyTypedErrors(() => parsePath(s))));
});

test('values: range checks per type', () => {
  checkValue(v.integer(2n ** 63n - 1n));
  checkValue(v.unsigned(2n ** 64n - 1n));
  checkValue(v.objlnk(65535, 65535));
  throwsCode(() => checkValue(v.integer(2n ** 63n)), 'ERR_LWM2M_BAD_VALUE');
  throwsCode(() => checkValue(v.unsigned(-1)), 'ERR_LWM2M_BAD_VALUE');
  throwsCode(() => checkValue(v.integer(1.5)), 'ERR_LWM2M_BAD_VALUE');
  throwsCode(() => checkValue(v.objlnk(65536, 0)), 'ERR_LWM2M_BAD_VALUE');
  throwsCode(() => checkValue(v.string('\uD800')), 'ERR_LWM2M_BAD_VALUE');
  throwsCode(() => multipleResource(6, [[0, v.integer(1)], [0, v.integer(2)]]), 'ERR_LWM2M_BAD_VALUE');
  throwsCode(() => objectInstance(0, [singleResource(1, v.integer(1)), singleResource(1, v.integer(2))]), 'ERR_LWM2M_BAD_VALUE');
});

test('flatten and build are inverse, and build refuses leaves that contradict the model', () => {
  const inst = specDeviceInstance();
  const path = parsePath('/3/0');
  const leaves = flattenNode(path, inst);
  assert.equal(leaves.length, 16);
  assert.equal(formatPath(leaves[4]!.path), '/3/0/6/0');
  const multiple = (o: number, r: number) => (o === 3 ? [6, 7, 8, 11].includes(r) : undefined);
  assert.deepEqual(buildNode(path, leaves, multiple), inst);
  throwsCode(() => buildNode(path, [{ path: parsePath('/3/0/6'), value: v.integer(1) }], multiple), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => buildNode(path, [{ path: parsePath('/3/0/9/0'), value: v.integer(1) }], multiple), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => buildNode(path, [{ path: parsePath('/4/0/1'), value: v.integer(1) }], multiple), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => buildNode(path, [leaves[0]!, leaves[0]!], multiple), 'ERR_LWM2M_BAD_PAYLOAD');
  throwsCode(() => flattenNode(parsePath('/3/1'), inst), 'ERR_LWM2M_BAD_VALUE');
});

/**
 * ObjectTree internals that the simulator's cost work touched: the process-wide cache of /o/i and
 * /o/i/r paths (ids below 1024), setInstance from a record or a Map, handler keys, and the O(1)
 * presence checks. Differential: every path a tree hands out equals makePath's for the same ids,
 * and bad ids fail with the same typed error as before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ObjectTree, type TreeChange } from '../../src/client/object-tree.js';
import { Lwm2mBadPathError, Lwm2mBadValueError } from '../../src/lwm2m/model/errors.js';
import { lwm2mValue as v } from '../../src/lwm2m/model/node.js';
import { makePath } from '../../src/lwm2m/model/path.js';
import { ObjectRegistry } from '../../src/lwm2m/model/registry.js';

const registry = new ObjectRegistry();

function recording(tree: ObjectTree): TreeChange[] {
  const seen: TreeChange[] = [];
  tree.onChange((c) => seen.push(c));
  return seen;
}

test('change events carry the same paths makePath builds, cached ids or not (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 65534 }), fc.integer({ min: 0, max: 65534 }), fc.integer({ min: 0, max: 65534 }), (o, i, r) => {
      // An object the registry does not know: no type rules, any id.
      const obj = 40_000 + (o % 20_000);
      const tree = new ObjectTree(registry);
      const seen = recording(tree);
      tree.setInstance(obj, i, { [r]: v.integer(r) });
      tree.set(obj, i, r, v.integer(r + 1));
      assert.deepEqual(seen[0], { path: makePath(obj, i), kind: 'instances' });
      assert.deepEqual(seen[1], { path: makePath(obj, i, r), kind: 'value' });
      assert.ok(Object.isFrozen(seen[1]!.path));
      assert.equal(tree.hasResource(obj, i, r), true);
      assert.equal(tree.hasResource(obj, i, r === 0 ? 1 : r - 1), false);
      assert.deepEqual(tree.get(obj, i, r), v.integer(r + 1));
    }),
    { numRuns: 300 },
  );
});

test('cached paths are shared between trees and never changed by them', () => {
  const t1 = new ObjectTree(registry);
  const t2 = new ObjectTree(registry);
  const s1 = recording(t1);
  const s2 = recording(t2);
  t1.setInstance(3442, 0, { 1: v.string('a') });
  t2.setInstance(3442, 0, { 1: v.string('b') });
  t1.set(3442, 0, 1, v.string('c'));
  t2.set(3442, 0, 1, v.string('d'));
  assert.deepEqual(s1[1]!.path, makePath(3442, 0, 1));
  assert.deepEqual(s2[1]!.path, makePath(3442, 0, 1));
  assert.throws(() => {
    (s1[1]!.path as { resourceId: number }).resourceId = 7;
  }, TypeError);
  assert.equal(s2[1]!.path.resourceId, 1);
});

test('bad ids fail as before: typed path errors, nothing stored', () => {
  const tree = new ObjectTree(registry);
  for (const [o, i] of [[-1, 0], [3, 65535], [3, 1.5], [70_000, 0], [Number.NaN, 0]] as const) {
    assert.throws(() => tree.setInstance(o, i, {}), Lwm2mBadPathError, `${o}/${i}`);
    assert.equal(tree.hasInstance(o, i), false);
  }
  tree.setInstance(3442, 0, {});
  assert.throws(() => tree.set(3442, 0, 65535, v.integer(1)), Lwm2mBadPathError);
  assert.throws(() => tree.set(3442, 0, -2, v.integer(1)), Lwm2mBadPathError);
  assert.throws(() => tree.setHandler(3442, 0, 1.25, { read: () => v.integer(1) }), Lwm2mBadPathError);
  assert.deepEqual(tree.resourceIds(3442, 0), []);
});

test('values are checked against the object model, from a record or a Map', () => {
  const tree = new ObjectTree(registry);
  // Device (3): resource 0 Manufacturer is a string.
  assert.throws(() => tree.setInstance(3, 0, { 0: v.integer(1) }), Lwm2mBadValueError);
  assert.throws(() => tree.setInstance(3, 0, new Map([[0, v.integer(1)]])), Lwm2mBadValueError);
  assert.equal(tree.hasObject(3), false);
  tree.setInstance(3, 0, { 0: v.string('acme'), 11: new Map([[0, v.integer(0)]]) });
  tree.setInstance(4, 0, new Map([[2, v.integer(-60)]]));
  assert.deepEqual(tree.objectIds(), [3, 4]);
  assert.equal(tree.hasObject(3), true);
  assert.equal(tree.hasObject(5), false);
  assert.deepEqual(tree.resourceIds(3, 0), [0, 11]);
  assert.equal(tree.hasResource(3, 0, 11), true);
  assert.equal(tree.hasResource(3, 1, 0), false);
  assert.throws(() => tree.set(3, 0, 0, v.integer(3)), Lwm2mBadValueError);
  assert.deepEqual(tree.get(3, 0, 0), v.string('acme'));
});

test('handlers given to setInstance and setHandler answer reads and executes on their resource only', async () => {
  const tree = new ObjectTree(registry);
  let ran = '';
  tree.setInstance(3, 0, { 0: v.string('acme') }, { 13: { read: () => v.time(42) }, 4: { execute: (args) => void (ran = `4:${args}`) } });
  tree.setHandler(3, 0, 5, { execute: (args) => void (ran = `5:${args}`) });
  assert.deepEqual(tree.get(3, 0, 13), v.time(42));
  assert.equal(tree.get(3, 1, 13), undefined);
  await tree.execute(makePath(3, 0, 4), 'x', 'server');
  assert.equal(ran, '4:x');
  await tree.execute(makePath(3, 0, 5), 'y', 'server');
  assert.equal(ran, '5:y');
  assert.equal(tree.deleteInstance(3, 0), true);
  // The instance's handlers go with it.
  tree.setInstance(3, 0, {});
  assert.equal(tree.get(3, 0, 13), undefined);
});

test('objectIds, instanceIds and resourceIds are ascending whatever the order of creation (property)', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 65534 }), { maxLength: 12 }), fc.uniqueArray(fc.integer({ min: 0, max: 65534 }), { maxLength: 12 }), (instances, resources) => {
      const tree = new ObjectTree(registry);
      for (const i of instances) tree.setInstance(40_001, i, Object.fromEntries(resources.map((r) => [r, v.integer(r)])));
      tree.defineObject(40_000 + ((instances[0] ?? 5) % 1000));
      const asc = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);
      assert.deepEqual(tree.instanceIds(40_001), asc(instances));
      for (const i of instances) assert.deepEqual(tree.resourceIds(40_001, i), asc(resources));
      assert.deepEqual(tree.objectIds(), asc([...new Set([...(instances.length > 0 ? [40_001] : []), 40_000 + ((instances[0] ?? 5) % 1000)])]));
      assert.deepEqual(tree.instanceIds(9999), []);
      assert.deepEqual(tree.resourceIds(40_001, 70_000), []);
    }),
    { numRuns: 300 },
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventHub, type HubEvent } from '../../src/api/events-hub.js';

test('ids increase, the ring keeps the newest `capacity` events, replay reports gaps', () => {
  const hub = new EventHub({ capacity: 3 });
  assert.equal(hub.lastId, 0);
  assert.deepEqual(hub.replaySince(0), { events: [], gap: false });
  const seen: HubEvent[] = [];
  const unsubscribe = hub.subscribe((e) => seen.push(e));
  for (let i = 0; i < 5; i++) hub.publish('device', 'device.created', { endpoint: `d${i}` });
  assert.deepEqual(seen.map((e) => e.id), [1, 2, 3, 4, 5]);
  assert.equal(hub.lastId, 5);

  assert.deepEqual(hub.replaySince(4).events.map((e) => e.id), [5]);
  assert.equal(hub.replaySince(4).gap, false);
  assert.equal(hub.replaySince(2).gap, false);
  assert.deepEqual(hub.replaySince(2).events.map((e) => e.id), [3, 4, 5]);
  // Event 2 was evicted: resuming after 1 misses it.
  assert.equal(hub.replaySince(1).gap, true);
  assert.deepEqual(hub.replaySince(5), { events: [], gap: false });
  // An id this process never handed out comes from an earlier run: everything held, and a gap.
  assert.deepEqual(hub.replaySince(99).events.map((e) => e.id), [3, 4, 5]);
  assert.equal(hub.replaySince(99).gap, true);

  unsubscribe();
  hub.publish('campaign', 'campaign.state', {});
  assert.equal(seen.length, 5);
});

test('a throwing subscriber neither fails the publisher nor starves the others', () => {
  const hub = new EventHub();
  const got: number[] = [];
  hub.subscribe(() => {
    throw new Error('broken stream');
  });
  hub.subscribe((e) => got.push(e.id));
  assert.equal(hub.publish('lwm2m', 'lwm2m.update', { endpoint: 'x' }).id, 1);
  assert.deepEqual(got, [1]);
});

test('stream slots are capped and released', () => {
  const hub = new EventHub({ maxStreams: 2 });
  assert.equal(hub.tryOpenStream(), true);
  assert.equal(hub.tryOpenStream(), true);
  assert.equal(hub.tryOpenStream(), false);
  hub.releaseStream();
  assert.equal(hub.openStreams, 1);
  assert.equal(hub.tryOpenStream(), true);
});

test('arguments are checked', () => {
  const hub = new EventHub();
  assert.throws(() => hub.publish('nope' as 'device', 'device.created', {}), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => hub.publish('device', 'Device Created', {}), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => hub.publish('device', 'device.created', null as unknown as Record<string, unknown>), { code: 'ERR_INVALID_ARGUMENT' });
  for (const options of [{ capacity: 0 }, { maxStreams: 1.5 }, { heartbeatMs: -1 }]) assert.throws(() => new EventHub(options), { code: 'ERR_INVALID_ARGUMENT' });
  assert.equal(hub.lastId, 0, 'refused events take no id');
});

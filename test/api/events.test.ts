import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request, startTestServer, type TestServer } from '../server/harness.js';

let t: TestServer;
let api: string;
let firmwareId: string;

before(async () => {
  t = await startTestServer({ start: { events: { capacity: 5, maxStreams: 3, heartbeatMs: 50 } } });
  api = `${t.url}/api/v1`;
  const res = await fetch(`${api}/firmware?model=EV-1&version=2.0.0`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(2048) });
  assert.equal(res.status, 201);
  firmwareId = ((await res.json()) as { id: string }).id;
});
after(() => t.close());

interface Frame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** A live SSE connection read frame by frame. */
async function connect(query = '', headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(`${api}/events${query}`, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const frames: Frame[] = [];
  async function next(): Promise<Frame> {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end !== -1) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const f: Frame = {};
        for (const line of raw.split('\n')) {
          if (line.startsWith(':')) f.comment = (f.comment ?? '') + line.slice(1).trim();
          else {
            const i = line.indexOf(': ');
            const [k, v] = [line.slice(0, i), line.slice(i + 2)];
            if (k === 'id' || k === 'event' || k === 'data') f[k] = v;
          }
        }
        frames.push(f);
        return f;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buffer += decoder.decode(value, { stream: true });
    }
  }
  /** The next frame carrying an event (skipping comments and the retry line). */
  async function nextEvent(): Promise<Frame & { json: { id: number; topic: string; type: string; data: Record<string, unknown> } }> {
    for (;;) {
      const f = await next();
      if (f.data !== undefined) return { ...f, json: JSON.parse(f.data) };
    }
  }
  return { res, next, nextEvent, close: () => abort.abort() };
}

async function createCampaign(name: string): Promise<string> {
  const r = await request(`${api}/campaigns`, { method: 'POST', body: { name, firmwareId, target: { model: 'EV-1' } } });
  assert.equal(r.status, 201, r.text);
  return (r.body as { id: string }).id;
}

test('a created campaign arrives as an event; a reconnect with Last-Event-ID gets the missed ones', async () => {
  const s = await connect();
  assert.equal(s.res.status, 200);
  assert.match(s.res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const id1 = await createCampaign('first');
  const e1 = await s.nextEvent();
  assert.equal(e1.event, 'campaign');
  assert.equal(e1.json.type, 'campaign.created');
  assert.equal(e1.json.data.campaignId, id1);
  assert.equal(e1.id, String(e1.json.id));
  s.close();

  // Missed while disconnected: a device and another campaign.
  const dev = await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'ev-dev-1', model: 'EV-1', firmwareVersion: '1.0.0' } });
  assert.equal(dev.status, 201);
  const id2 = await createCampaign('second');

  const again = await connect('', { 'last-event-id': e1.id! });
  const m1 = await again.nextEvent();
  const m2 = await again.nextEvent();
  assert.deepEqual([m1.event, m1.json.type, m1.json.data.endpoint], ['device', 'device.created', 'ev-dev-1']);
  assert.deepEqual([m2.event, m2.json.type, m2.json.data.campaignId], ['campaign', 'campaign.created', id2]);
  assert.equal(m2.json.id, m1.json.id + 1);
  assert.equal(m1.json.id, e1.json.id + 1);
  // Live events follow the replay without duplicates.
  const removed = await request(`${api}/devices/ev-dev-1`, { method: 'DELETE' });
  assert.equal(removed.status, 204);
  const live = await again.nextEvent();
  assert.deepEqual([live.json.type, live.json.id], ['device.removed', m2.json.id + 1]);
  again.close();
});

test('topics filter, heartbeat comments, gap notice, stream cap, bad Last-Event-ID', async () => {
  const devices = await connect('?topics=device');
  const heartbeat = await (async () => {
    for (;;) {
      const f = await devices.next();
      if (f.comment === 'heartbeat') return f;
    }
  })();
  assert.equal(heartbeat.comment, 'heartbeat');
  await createCampaign('filtered-out');
  await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'ev-dev-2' } });
  const only = await devices.nextEvent();
  assert.deepEqual([only.event, only.json.type], ['device', 'device.created']);

  // Evict: the ring keeps 5 events, so resuming from id 0 reports a gap first.
  for (let i = 0; i < 6; i++) await createCampaign(`evict-${i}`);
  const late = await connect('?lastEventId=1');
  const first = await late.next();
  assert.match(first.comment ?? '', /rootline events/);
  const gap = await late.next();
  assert.equal(gap.event, 'gap');
  assert.equal(gap.id, undefined);
  const replayed: number[] = [];
  for (let i = 0; i < 5; i++) replayed.push((await late.nextEvent()).json.id);
  assert.deepEqual(JSON.parse(gap.data!), { lastEventId: 1, oldestAvailable: replayed[0] });
  assert.deepEqual(replayed, [0, 1, 2, 3, 4].map((k) => replayed[0]! + k));

  const third = await connect();
  const refused = await request(`${api}/events`);
  assert.equal(refused.status, 503);
  assert.equal((refused.body as { error: { code: string } }).error.code, 'ERR_API_TOO_MANY_STREAMS');
  third.close();
  late.close();
  devices.close();

  const bad = await request(`${api}/events?topics=nope`);
  assert.equal(bad.status, 400);
  const res = await fetch(`${api}/events`, { headers: { 'last-event-id': 'abc' } });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'ERR_API_VALIDATION');
});

test('publish() hook: events from other rooms reach the stream', async () => {
  const s = await connect('?topics=lwm2m');
  t.server.events.publish('lwm2m', 'lwm2m.registration', { endpoint: 'ev-dev-3', lifetime: 300 });
  const e = await s.nextEvent();
  assert.deepEqual([e.event, e.json.type, e.json.data], ['lwm2m', 'lwm2m.registration', { endpoint: 'ev-dev-3', lifetime: 300 }]);
  assert.throws(() => t.server.events.publish('lwm2m', 'Bad Type', {}), { code: 'ERR_INVALID_ARGUMENT' });
  s.close();
});

test('closing the server ends open streams; HEAD is not served on the stream', async () => {
  const own = await startTestServer();
  const head = await fetch(`${own.url}/api/v1/events`, { method: 'HEAD' });
  assert.equal(head.status, 404);
  const res = await fetch(`${own.url}/api/v1/events`);
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  await reader.read(); // the opening comment
  await own.close();
  // Drains to the end: the server ended the stream rather than waiting for the client.
  for (;;) if ((await reader.read()).done) break;
});

/**
 * The Store contract, written once and registered for every implementation (SQLite, PostgreSQL):
 * both must behave identically for everything a domain service can observe.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AUDIT_VERIFY_BATCH as VERIFY_BATCH, hashAuditRecord } from '../../src/store/audit-chain.js';
import type { AuditRecord, Store } from '../../src/store/types.js';
import { registerCampaignContract } from './campaign-contract.js';
import { registerFirmwareContract } from './firmware-contract.js';
import { setup } from './harness.js';

export interface StoreHarness {
  /** Opens a new store (own connection / pool) on this harness's database. */
  open(): Promise<Store>;
  /**
   * Runs SQL on the database through a separate raw connection; with bypassTriggers the
   * append-only triggers do not fire — what an attacker with database access could do.
   */
  raw(sql: string, options?: { bypassTriggers?: boolean }): Promise<void>;
  /** Removes the database. */
  dispose(): Promise<void>;
}

export interface StoreBackend {
  name: string;
  /** node:test skip value (false, or the SKIPPED message). */
  skip: string | false;
  /** A fresh, empty database for one test. */
  createHarness(): Promise<StoreHarness>;
}

function hasCode(code: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, code, `expected ${code}, got ${String(err)}`);
    return true;
  };
}

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

async function appendMany(store: Store, n: number, subject = 'dev-1'): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await store.audit.append({ actor: 'system', action: i % 2 === 0 ? 'device.create' : 'device.update', subject, outcome: 'success', details: { i } }));
  }
  return out;
}

export function registerStoreContract(backend: StoreBackend): void {
  describe(`Store contract: ${backend.name}`, { skip: backend.skip }, () => {
    test('devices: create fills defaults, get round-trips every field', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      const minimal = await store.devices.create({ endpoint: 'urn:dev:1' });
      assert.deepEqual({ ...minimal, createdAt: '', updatedAt: '' }, {
        endpoint: 'urn:dev:1', model: null, firmwareVersion: null, tags: [], ownershipState: 'RESET', attributes: {}, createdAt: '', updatedAt: '',
      });
      assert.ok(!Number.isNaN(Date.parse(minimal.createdAt)));
      assert.equal(minimal.createdAt, minimal.updatedAt);
      const full = await store.devices.create({
        endpoint: 'sensor-ü-😀',
        model: 'TH-1',
        firmwareVersion: '1.2.3',
        tags: ['roof', 'north'],
        ownershipState: 'RFNOP',
        attributes: { serial: 'A1', nested: { list: [1, 'two', null, true], n: -0.5 }, empty: {} },
      });
      assert.deepEqual(await store.devices.get('sensor-ü-😀'), full);
      assert.deepEqual(await store.devices.get('urn:dev:1'), minimal);
      assert.equal(await store.devices.get('absent'), undefined);
    });

    test('devices: a second create of an endpoint is ERR_STORE_CONFLICT', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      await store.devices.create({ endpoint: 'dup', model: 'A' });
      await assert.rejects(store.devices.create({ endpoint: 'dup', model: 'B' }), hasCode('ERR_STORE_CONFLICT'));
      assert.equal((await store.devices.get('dup'))?.model, 'A');
    });

    test('devices: update applies only the given fields; unknown endpoint is ERR_STORE_NOT_FOUND', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      const created = await store.devices.create({ endpoint: 'd1', model: 'M', firmwareVersion: '1', tags: ['a'], attributes: { k: 1 } });
      const updated = await store.devices.update('d1', { firmwareVersion: '2', model: null, ownershipState: 'RFOTM' });
      assert.equal(updated.firmwareVersion, '2');
      assert.equal(updated.model, null);
      assert.equal(updated.ownershipState, 'RFOTM');
      assert.deepEqual(updated.tags, ['a']);
      assert.deepEqual(updated.attributes, { k: 1 });
      assert.equal(updated.createdAt, created.createdAt);
      assert.ok(updated.updatedAt >= created.updatedAt);
      assert.deepEqual(await store.devices.get('d1'), updated);
      await assert.rejects(store.devices.update('nope', { model: 'x' }), hasCode('ERR_STORE_NOT_FOUND'));
      await assert.rejects(store.devices.update('d1', { endpoint: 'd2' } as never), hasCode('ERR_INVALID_ARGUMENT'));
      await assert.rejects(store.devices.update('d1', { ownershipState: 'BOGUS' } as never), hasCode('ERR_INVALID_ARGUMENT'));
    });

    test('devices: delete reports whether a device was removed', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      await store.devices.create({ endpoint: 'gone' });
      assert.equal(await store.devices.delete('gone'), true);
      assert.equal(await store.devices.delete('gone'), false);
      assert.equal(await store.devices.get('gone'), undefined);
    });

    test('devices: bad arguments are ERR_INVALID_ARGUMENT and store nothing', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      const bad: unknown[] = [
        { endpoint: '' },
        { endpoint: 'x'.repeat(256) },
        { endpoint: 'tab\there' },
        { endpoint: 'nul\u0000' },
        { endpoint: 'lone\ud800' },
        { endpoint: 'ok', tags: ['a', 'a'] },
        { endpoint: 'ok', tags: [1] },
        { endpoint: 'ok', attributes: { f: Number.NaN } },
        { endpoint: 'ok', attributes: { d: new Date(0) } },
        { endpoint: 'ok', attributes: [] },
        { endpoint: 'ok', ownershipState: 'OWNED' },
        { endpoint: 'ok', colour: 'red' },
        null,
      ];
      for (const d of bad) await assert.rejects(store.devices.create(d as never), hasCode('ERR_INVALID_ARGUMENT'), JSON.stringify(d));
      assert.equal(await store.devices.count(), 0);
      // A field that holds undefined says nothing, known or not (handlers spread optional values).
      assert.equal((await store.devices.create({ endpoint: 'ok', model: undefined, colour: undefined } as never)).model, null);
      await assert.rejects(store.devices.list({ limit: 0 }), hasCode('ERR_INVALID_ARGUMENT'));
      await assert.rejects(store.devices.list({ limit: 1001 }), hasCode('ERR_INVALID_ARGUMENT'));
      await assert.rejects(store.devices.get(''), hasCode('ERR_INVALID_ARGUMENT'));
    });

    test('devices: list filters, orders by UTF-8 bytes and pages by keyset; count agrees', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      const endpoints = ['b-2', 'a-1', 'Z-9', 'é-3', '😀-4', '\uffff-5', 'a-10', 'sensor-%_', 'SENSOR-x', 'ab'];
      for (const [i, ep] of endpoints.entries()) {
        await store.devices.create({
          endpoint: ep,
          model: i % 2 === 0 ? 'even' : 'odd',
          tags: i % 3 === 0 ? ['three', 'all'] : ['all'],
          ownershipState: i < 4 ? 'RFNOP' : 'RESET',
        });
      }
      const sorted = [...endpoints].sort(utf8Compare);
      assert.deepEqual((await store.devices.list()).map((d) => d.endpoint), sorted);
      const paged: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.devices.list(after === undefined ? { limit: 3 } : { limit: 3, after });
        assert.ok(page.length <= 3);
        paged.push(...page.map((d) => d.endpoint));
        if (page.length < 3) break;
        after = page[page.length - 1]!.endpoint;
      }
      assert.deepEqual(paged, sorted);
      const expect = (pred: (ep: string, i: number) => boolean): string[] => endpoints.filter((ep, i) => pred(ep, i)).sort(utf8Compare);
      const cases: Array<[Parameters<Store['devices']['list']>[0], string[]]> = [
        [{ model: 'even' }, expect((_e, i) => i % 2 === 0)],
        [{ tag: 'three' }, expect((_e, i) => i % 3 === 0)],
        [{ tag: 'al' }, []],
        [{ ownershipState: 'RFNOP' }, expect((_e, i) => i < 4)],
        [{ search: 'a-1' }, ['a-1', 'a-10']],
        [{ search: '%_' }, ['sensor-%_']],
        [{ search: 'sensor' }, ['sensor-%_']],
        [{ model: 'odd', tag: 'three', ownershipState: 'RESET' }, expect((_e, i) => i % 2 === 1 && i % 3 === 0 && i >= 4)],
        [{ model: 'none' }, []],
      ];
      for (const [q, want] of cases) {
        assert.deepEqual((await store.devices.list(q)).map((d) => d.endpoint), want, JSON.stringify(q));
        assert.equal(await store.devices.count(q), want.length, JSON.stringify(q));
      }
      assert.equal(await store.devices.count(), endpoints.length);
      assert.deepEqual((await store.devices.list({ after: sorted[7]! })).map((d) => d.endpoint), sorted.slice(8));
    });

    test('credentials: unique per (kind, lookup), bound to an existing device, removed with it', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      await store.devices.create({ endpoint: 'd1' });
      await store.devices.create({ endpoint: 'd2' });
      const key = Uint8Array.from([0, 1, 2, 255]);
      const psk = await store.devices.addCredential({ endpoint: 'd1', kind: 'psk', lookup: 'id-1', material: key });
      key[0] = 9; // the store keeps its own copy
      assert.deepEqual(psk.material, Uint8Array.from([0, 1, 2, 255]));
      await store.devices.addCredential({ endpoint: 'd1', kind: 'x509', lookup: 'CN=d1', material: new Uint8Array(0) });
      // Same lookup, other kind: a different credential.
      await store.devices.addCredential({ endpoint: 'd2', kind: 'rpk', lookup: 'id-1', material: Uint8Array.from([7]) });
      await assert.rejects(store.devices.addCredential({ endpoint: 'd2', kind: 'psk', lookup: 'id-1', material: Uint8Array.from([1]) }), hasCode('ERR_STORE_CONFLICT'));
      await assert.rejects(store.devices.addCredential({ endpoint: 'nobody', kind: 'psk', lookup: 'id-9', material: Uint8Array.from([1]) }), hasCode('ERR_STORE_NOT_FOUND'));
      await assert.rejects(store.devices.addCredential({ endpoint: 'd1', kind: 'pgp', lookup: 'x', material: Uint8Array.from([1]) } as never), hasCode('ERR_INVALID_ARGUMENT'));

      const found = await store.devices.findCredential('psk', 'id-1');
      assert.ok(found);
      assert.equal(found.endpoint, 'd1');
      assert.ok(found.material instanceof Uint8Array);
      assert.deepEqual(found.material, Uint8Array.from([0, 1, 2, 255]));
      assert.deepEqual(found, psk);
      assert.equal(await store.devices.findCredential('x509', 'id-1'), undefined);
      assert.deepEqual((await store.devices.credentials('d1')).map((c) => `${c.kind}:${c.lookup}:${c.material.length}`).sort(), ['psk:id-1:4', 'x509:CN=d1:0']);
      assert.deepEqual(await store.devices.credentials('nobody'), []);

      assert.equal(await store.devices.removeCredential('x509', 'CN=d1'), true);
      assert.equal(await store.devices.removeCredential('x509', 'CN=d1'), false);
      assert.equal(await store.devices.delete('d1'), true);
      assert.equal(await store.devices.findCredential('psk', 'id-1'), undefined, 'credentials cascade with their device');
      // The lookup is free again once its device is gone.
      await store.devices.addCredential({ endpoint: 'd2', kind: 'psk', lookup: 'id-1', material: Uint8Array.from([3]) });
      assert.equal((await store.devices.findCredential('psk', 'id-1'))?.endpoint, 'd2');
    });

    test('createWithCredentials: all of it or nothing', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      const made = await store.devices.createWithCredentials({ endpoint: 'new-1', model: 'M' }, [
        { kind: 'psk', lookup: 'new-1-id', material: Uint8Array.from([1]) },
        { kind: 'x509', lookup: 'CN=new-1', material: new Uint8Array(0) },
      ]);
      assert.equal(made.device.endpoint, 'new-1');
      assert.deepEqual(made.credentials.map((c) => [c.endpoint, c.kind, c.lookup]), [['new-1', 'psk', 'new-1-id'], ['new-1', 'x509', 'CN=new-1']]);
      assert.deepEqual(await store.devices.get('new-1'), made.device);
      assert.equal((await store.devices.credentials('new-1')).length, 2);

      // The second credential is taken: the device and the first credential are not stored.
      await assert.rejects(
        store.devices.createWithCredentials({ endpoint: 'new-2' }, [
          { kind: 'psk', lookup: 'new-2-id', material: Uint8Array.from([2]) },
          { kind: 'psk', lookup: 'new-1-id', material: Uint8Array.from([2]) },
        ]),
        hasCode('ERR_STORE_CONFLICT'),
      );
      assert.equal(await store.devices.get('new-2'), undefined);
      assert.equal(await store.devices.findCredential('psk', 'new-2-id'), undefined);
      // The same credential twice in one call conflicts with itself.
      await assert.rejects(
        store.devices.createWithCredentials({ endpoint: 'new-3' }, [
          { kind: 'rpk', lookup: 'same', material: Uint8Array.from([3]) },
          { kind: 'rpk', lookup: 'same', material: Uint8Array.from([3]) },
        ]),
        hasCode('ERR_STORE_CONFLICT'),
      );
      assert.equal(await store.devices.get('new-3'), undefined);
      // The endpoint exists: its credentials are not added to the existing device.
      await assert.rejects(store.devices.createWithCredentials({ endpoint: 'new-1' }, [{ kind: 'psk', lookup: 'other', material: Uint8Array.from([4]) }]), hasCode('ERR_STORE_CONFLICT'));
      assert.equal(await store.devices.findCredential('psk', 'other'), undefined);
      await assert.rejects(
        store.devices.createWithCredentials({ endpoint: 'new-4' }, [{ endpoint: 'elsewhere', kind: 'psk', lookup: 'x', material: Uint8Array.from([5]) } as never]),
        hasCode('ERR_INVALID_ARGUMENT'),
      );
      await assert.rejects(store.devices.createWithCredentials({ endpoint: 'new-4' }, 'psk' as never), hasCode('ERR_INVALID_ARGUMENT'));
      assert.equal(await store.devices.count(), 1);
      // With no credentials it is a plain create.
      assert.deepEqual((await store.devices.createWithCredentials({ endpoint: 'bare' }, [])).credentials, []);
    });

    test('settings: get, set, overwrite, delete', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      assert.equal(await store.settings.get('k'), undefined);
      await store.settings.set('k', 'v1');
      await store.settings.set('k', 'v2 ü\n');
      await store.settings.set('empty', '');
      assert.equal(await store.settings.get('k'), 'v2 ü\n');
      assert.equal(await store.settings.get('empty'), '');
      assert.equal(await store.settings.delete('k'), true);
      assert.equal(await store.settings.delete('k'), false);
      assert.equal(await store.settings.get('k'), undefined);
      await assert.rejects(store.settings.set('', 'x'), hasCode('ERR_INVALID_ARGUMENT'));
      await assert.rejects(store.settings.set('k', 5 as never), hasCode('ERR_INVALID_ARGUMENT'));
    });

    test('audit: appends chain from 64 zeros, list filters and pages, verify passes', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      assert.deepEqual(await store.audit.verify(), { ok: true, count: 0, lastHash: '0'.repeat(64) });
      const first = await store.audit.append({ actor: 'operator:ann', action: 'device.create', subject: 'd1', outcome: 'success', details: { b: 1, a: [{ z: 1, y: 'ü' }] } });
      assert.equal(first.seq, 1);
      assert.equal(first.prevHash, '0'.repeat(64));
      const { hash, ...unsigned } = first;
      assert.equal(hash, hashAuditRecord(unsigned));
      const second = await store.audit.append({ actor: 'device:d2', action: 'dtls.handshake', subject: 'd2', outcome: 'deny' });
      assert.deepEqual(second.details, {});
      assert.equal(second.prevHash, first.hash);
      const rest = await appendMany(store, 5, 'd1');
      const all = await store.audit.list();
      assert.deepEqual(all, [first, second, ...rest]);
      assert.deepEqual((await store.audit.list({ after: 2, limit: 2 })).map((r) => r.seq), [3, 4]);
      assert.deepEqual((await store.audit.list({ subject: 'd2' })).map((r) => r.seq), [2]);
      assert.deepEqual((await store.audit.list({ action: 'device.create' })).map((r) => r.seq), [1, 3, 5, 7]);
      assert.deepEqual((await store.audit.list({ action: 'device.create', subject: 'd1', after: 3 })).map((r) => r.seq), [5, 7]);
      assert.deepEqual(await store.audit.verify(), { ok: true, count: 7, lastHash: rest[4]!.hash });
      await assert.rejects(store.audit.append({ actor: 'x', action: 'y', subject: 'z', outcome: 'maybe' } as never), hasCode('ERR_INVALID_ARGUMENT'));
      await assert.rejects(store.audit.append({ actor: '', action: 'y', subject: 'z', outcome: 'allow' }), hasCode('ERR_INVALID_ARGUMENT'));
      await assert.rejects(store.audit.list({ after: -1 }), hasCode('ERR_INVALID_ARGUMENT'));
    });

    test('audit: the database refuses UPDATE and DELETE on the log', async (t) => {
      const { open, harness } = await setup(t, backend);
      const store = await open();
      await appendMany(store, 3);
      await assert.rejects(harness.raw("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"), /append-only/);
      await assert.rejects(harness.raw('DELETE FROM audit_log WHERE seq = 3'), /append-only/);
      await assert.rejects(harness.raw("UPDATE audit_head SET seq = 1, hash = 'x'"), /audit_head/);
      assert.equal((await store.audit.verify()).ok, true);
    });

    test('audit: verify names the first broken link after tampering', async (t) => {
      const { open, harness } = await setup(t, backend);
      const store = await open();
      const records = await appendMany(store, 10);
      const verify = async () => store.audit.verify();

      await harness.raw("UPDATE audit_log SET actor = 'mallory' WHERE seq = 6", { bypassTriggers: true });
      let v = await verify();
      assert.equal(v.ok, false);
      assert.ok(!v.ok && v.brokenAt === 6 && v.problem === 'hash-mismatch' && v.count === 5, JSON.stringify(v));
      assert.match(v.ok ? '' : v.reason, /^hash mismatch/);

      // A tamperer who also rehashes the record is caught by the next link.
      const forged = { ...records[5]!, actor: 'mallory' };
      const { hash: _old, ...unsigned } = forged;
      await harness.raw(`UPDATE audit_log SET hash = '${hashAuditRecord(unsigned)}' WHERE seq = 6`, { bypassTriggers: true });
      v = await verify();
      assert.ok(!v.ok && v.brokenAt === 7 && v.problem === 'prev-hash-mismatch', JSON.stringify(v));
      assert.match(v.ok ? '' : v.reason, /^prev-hash mismatch/);

      await harness.raw('DELETE FROM audit_log WHERE seq = 3', { bypassTriggers: true });
      v = await verify();
      assert.ok(!v.ok && v.brokenAt === 3 && v.problem === 'seq-gap' && v.count === 2, JSON.stringify(v));
      assert.match(v.ok ? '' : v.reason, /^gap in seq/);
    });

    test('audit: deleting the newest records or adding one past the head is detected', async (t) => {
      const { open, harness } = await setup(t, backend);
      const store = await open();
      const records = await appendMany(store, 6);
      await harness.raw('DELETE FROM audit_log WHERE seq >= 5', { bypassTriggers: true });
      let v = await store.audit.verify();
      assert.ok(!v.ok && v.brokenAt === 5 && v.problem === 'head-mismatch' && v.count === 4, JSON.stringify(v));

      const { open: open2, harness: h2 } = await setup(t, backend);
      const store2 = await open2();
      await appendMany(store2, 2);
      const last = (await store2.audit.list()).at(-1)!;
      const extra = { seq: 3, at: new Date().toISOString(), actor: 'mallory', action: 'x', subject: 'y', outcome: 'allow' as const, details: {}, prevHash: last.hash };
      await h2.raw(
        `INSERT INTO audit_log (seq, at, actor, action, subject, outcome, details, prev_hash, hash)
         VALUES (3, '${extra.at}', 'mallory', 'x', 'y', 'allow', '{}', '${last.hash}', '${hashAuditRecord(extra)}')`,
        { bypassTriggers: true },
      );
      v = await store2.audit.verify();
      assert.ok(!v.ok && v.brokenAt === 3 && v.problem === 'head-mismatch', JSON.stringify(v));
      assert.equal(records.length, 6);
    });

    test('audit: verify walks a log longer than one batch and finds a break in a later batch', async (t) => {
      const { open, harness } = await setup(t, backend);
      const store = await open();
      const n = VERIFY_BATCH + 5;
      await appendMany(store, n);
      const ok = await store.audit.verify();
      assert.ok(ok.ok && ok.count === n, JSON.stringify(ok));
      await harness.raw(`UPDATE audit_log SET subject = 'other' WHERE seq = ${VERIFY_BATCH + 2}`, { bypassTriggers: true });
      const v = await store.audit.verify();
      assert.ok(!v.ok && v.brokenAt === VERIFY_BATCH + 2 && v.problem === 'hash-mismatch', JSON.stringify(v));
    });

    test('audit: 50 concurrent appends from two store instances form one unbroken chain', async (t) => {
      const { open } = await setup(t, backend);
      const a = await open();
      const b = await open();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).audit.append({ actor: 'system', action: 'load', subject: `s${i}`, outcome: 'success', details: { i } })),
      );
      assert.deepEqual(results.map((r) => r.seq).sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i + 1));
      const v = await a.audit.verify();
      assert.ok(v.ok && v.count === 50, JSON.stringify(v));
      const listed = await b.audit.list({ limit: 1000 });
      for (let i = 1; i < listed.length; i++) assert.equal(listed[i]!.prevHash, listed[i - 1]!.hash);
    });

    test('audit: verify while appends are committing reports an intact chain', async (t) => {
      const { open } = await setup(t, backend);
      const writer = await open();
      const reader = await open();
      await appendMany(writer, 5);
      const appends = Promise.all(Array.from({ length: 60 }, (_, i) => writer.audit.append({ actor: 'system', action: 'load', subject: 'v', outcome: 'success', details: { i } })));
      const verdicts: Array<Awaited<ReturnType<Store['audit']['verify']>>> = [];
      for (let i = 0; i < 6; i++) verdicts.push(await reader.audit.verify());
      await appends;
      verdicts.push(await reader.audit.verify());
      for (const v of verdicts) assert.equal(v.ok, true, JSON.stringify(v));
      assert.equal(verdicts.at(-1)!.count, 65);
    });

    test('migrations: idempotent, data survives reopen', async (t) => {
      const { open } = await setup(t, backend);
      const first = await open();
      await first.devices.create({ endpoint: 'keep', tags: ['x'], attributes: { a: 1 } });
      await first.devices.addCredential({ endpoint: 'keep', kind: 'psk', lookup: 'keep-id', material: Uint8Array.from([1, 2]) });
      await first.settings.set('s', 'v');
      await appendMany(first, 3);
      await first.migrate();
      await first.migrate();
      await first.close();
      const again = await open();
      await again.migrate();
      assert.deepEqual((await again.devices.get('keep'))?.attributes, { a: 1 });
      assert.deepEqual((await again.devices.findCredential('psk', 'keep-id'))?.material, Uint8Array.from([1, 2]));
      assert.equal(await again.settings.get('s'), 'v');
      const v = await again.audit.verify();
      assert.ok(v.ok && v.count === 3);
      assert.equal((await again.audit.append({ actor: 'system', action: 'a', subject: 's', outcome: 'success' })).seq, 4);
    });

    test('migrations: a database newer than the code, or with a different history, is refused', async (t) => {
      const { open, harness } = await setup(t, backend);
      const store = await open();
      await store.close();
      await harness.raw("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, 'from the future', 'x', '2030-01-01T00:00:00.000Z')");
      await assert.rejects(open(), (err: unknown) => hasCode('ERR_STORE_MIGRATION')(err) && /newer/.test((err as Error).message));
      await harness.raw('DELETE FROM schema_migrations WHERE version = 9999');
      await harness.raw("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1");
      await assert.rejects(open(), (err: unknown) => hasCode('ERR_STORE_MIGRATION')(err) && /checksum/.test((err as Error).message));
    });

    test('registrations: put/get/update/list/delete, one per endpoint, expiry, cascade with the device', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      await store.devices.create({ endpoint: 'ep-a' });
      await store.devices.create({ endpoint: 'ep-b' });
      const base = {
        lifetime: 300, lwm2mVersion: '1.1', binding: 'U', queueMode: false, smsNumber: null, objectLinks: '</1/0>,</3/0>',
        security: 'psk' as const, peer: '127.0.0.1:5000', registeredAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-01T00:05:00.000Z',
      };
      assert.equal(await store.registrations.put({ ...base, id: 'r1', endpoint: 'ep-a' }), undefined);
      assert.deepEqual(await store.registrations.get('r1'), { ...base, id: 'r1', endpoint: 'ep-a' });
      assert.deepEqual(await store.registrations.getByEndpoint('ep-a'), { ...base, id: 'r1', endpoint: 'ep-a' });
      // A new Register of the same endpoint replaces the old registration and returns it.
      const replaced = await store.registrations.put({ ...base, id: 'r2', endpoint: 'ep-a', binding: 'UQ', queueMode: true });
      assert.equal(replaced?.id, 'r1');
      assert.equal(await store.registrations.get('r1'), undefined);
      assert.equal((await store.registrations.getByEndpoint('ep-a'))?.id, 'r2');
      await assert.rejects(store.registrations.put({ ...base, id: 'r2', endpoint: 'ep-b' }), hasCode('ERR_STORE_CONFLICT'));
      await assert.rejects(store.registrations.put({ ...base, id: 'r3', endpoint: 'nobody' }), hasCode('ERR_STORE_NOT_FOUND'));
      await store.registrations.put({ ...base, id: 'r3', endpoint: 'ep-b', expiresAt: '2026-01-01T00:10:00.000Z' });
      const upd = await store.registrations.update('r2', { lifetime: 60, peer: null, objectLinks: '</3/0>', updatedAt: '2026-01-01T00:01:00.000Z', expiresAt: '2026-01-01T00:02:00.000Z' });
      assert.deepEqual(upd, { ...base, id: 'r2', endpoint: 'ep-a', binding: 'UQ', queueMode: true, lifetime: 60, peer: null, objectLinks: '</3/0>', updatedAt: '2026-01-01T00:01:00.000Z', expiresAt: '2026-01-01T00:02:00.000Z' });
      assert.equal(await store.registrations.update('nope', { lifetime: 5 }), undefined);
      assert.deepEqual((await store.registrations.list()).map((r) => r.id), ['r2', 'r3']);
      assert.deepEqual((await store.registrations.list({ after: 'ep-a', limit: 5 })).map((r) => r.id), ['r3']);
      assert.equal(await store.registrations.count(), 2);
      assert.deepEqual((await store.registrations.deleteExpired('2026-01-01T00:02:00.000Z')).map((r) => r.id), ['r2']);
      assert.equal(await store.registrations.count(), 1);
      await assert.rejects(store.registrations.put({ ...base, id: 'bad/id', endpoint: 'ep-a' }), hasCode('ERR_INVALID_ARGUMENT'));
      await assert.rejects(store.registrations.put({ ...base, id: 'r9', endpoint: 'ep-a', lifetime: 0 }), hasCode('ERR_INVALID_ARGUMENT'));
      await assert.rejects(store.registrations.update('r3', { expiresAt: 'yesterday' }), hasCode('ERR_INVALID_ARGUMENT'));
      assert.equal(await store.devices.delete('ep-b'), true);
      assert.equal(await store.registrations.get('r3'), undefined, 'a deleted device takes its registration along');
      assert.equal(await store.registrations.delete('r3'), false);
    });

    test('registrations: putMany stores a batch in order; a failing item fails alone and keeps the old registration', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      await store.devices.create({ endpoint: 'ep-a' });
      await store.devices.create({ endpoint: 'ep-b' });
      const base = {
        lifetime: 300, lwm2mVersion: '1.1', binding: 'U', queueMode: false, smsNumber: null, objectLinks: '</1/0>,</3/0>',
        security: 'psk' as const, peer: '127.0.0.1:5000', registeredAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-01T00:05:00.000Z',
      };
      assert.ok(store.registrations.putMany !== undefined, `${backend.name} implements putMany`);
      assert.deepEqual(await store.registrations.putMany([]), []);
      await store.registrations.put({ ...base, id: 'old-b', endpoint: 'ep-b' });
      const results = await store.registrations.putMany([
        { ...base, id: 'a1', endpoint: 'ep-a' },
        // The same endpoint again in the batch: replaces the one just stored, as in sequence.
        { ...base, id: 'a2', endpoint: 'ep-a', lifetime: 600 },
        { ...base, id: 'x1', endpoint: 'nobody' },
        // A taken id: fails alone, and ep-b keeps its registration.
        { ...base, id: 'a2', endpoint: 'ep-b' },
      ]);
      assert.equal(results.length, 4);
      assert.deepEqual(results[0], { ok: true, replaced: undefined });
      assert.equal(results[1]!.ok && results[1]!.replaced?.id, 'a1');
      assert.ok(!results[2]!.ok && hasCode('ERR_STORE_NOT_FOUND')(results[2]!.error));
      assert.ok(!results[3]!.ok && hasCode('ERR_STORE_CONFLICT')(results[3]!.error));
      assert.deepEqual(await store.registrations.getByEndpoint('ep-a'), { ...base, id: 'a2', endpoint: 'ep-a', lifetime: 600 });
      assert.deepEqual(await store.registrations.getByEndpoint('ep-b'), { ...base, id: 'old-b', endpoint: 'ep-b' });
      assert.equal(await store.registrations.get('a1'), undefined);
      assert.equal(await store.registrations.count(), 2);
      // A malformed record is the caller's bug: the whole call is refused and nothing is stored.
      await assert.rejects(store.registrations.putMany([{ ...base, id: 'b1', endpoint: 'ep-b' }, { ...base, id: 'bad/id', endpoint: 'ep-a' }]), hasCode('ERR_INVALID_ARGUMENT'));
      assert.equal((await store.registrations.getByEndpoint('ep-b'))?.id, 'old-b');
    });

    test('audit: appendMany chains a batch in order in one go; a bad entry stores none of it', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      assert.ok(store.audit.appendMany !== undefined, `${backend.name} implements appendMany`);
      const first = await store.audit.append({ actor: 'system', action: 'device.create', subject: 'd1', outcome: 'success' });
      assert.deepEqual(await store.audit.appendMany([]), []);
      const batch = await store.audit.appendMany(Array.from({ length: 5 }, (_, i) => ({ actor: `device:d${i}`, action: 'lwm2m.register', subject: `d${i}`, outcome: 'allow' as const, details: { i } })));
      assert.deepEqual(batch.map((r) => r.seq), [2, 3, 4, 5, 6]);
      assert.equal(batch[0]!.prevHash, first.hash);
      for (let i = 1; i < batch.length; i++) assert.equal(batch[i]!.prevHash, batch[i - 1]!.hash);
      for (const r of batch) {
        const { hash, ...unsigned } = r;
        assert.equal(hash, hashAuditRecord(unsigned));
      }
      assert.deepEqual(await store.audit.list({ after: 1 }), batch);
      await assert.rejects(store.audit.appendMany([{ actor: 'system', action: 'x.y', subject: 'z', outcome: 'allow' }, { actor: '', action: 'y', subject: 'z', outcome: 'allow' }]), hasCode('ERR_INVALID_ARGUMENT'));
      assert.deepEqual(await store.audit.verify(), { ok: true, count: 6, lastHash: batch[4]!.hash });
    });

    test('appendAuditAndPutRegistrations: audit records then registrations, one transaction, items fail alone', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      assert.ok(store.appendAuditAndPutRegistrations !== undefined, `${backend.name} implements appendAuditAndPutRegistrations`);
      await store.devices.create({ endpoint: 'ep-a' });
      await store.devices.create({ endpoint: 'ep-b' });
      const base = {
        lifetime: 300, lwm2mVersion: '1.1', binding: 'U', queueMode: false, smsNumber: null, objectLinks: '</1/0>,</3/0>',
        security: 'psk' as const, peer: '127.0.0.1:5000', registeredAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-01T00:05:00.000Z',
      };
      const first = await store.audit.append({ actor: 'system', action: 'device.create', subject: 'ep-a', outcome: 'success' });
      assert.deepEqual(await store.appendAuditAndPutRegistrations([], []), { audit: [], registrations: [] });
      await store.registrations.put({ ...base, id: 'old-b', endpoint: 'ep-b' });
      const audit = ['ep-a', 'nobody', 'ep-b'].map((ep) => ({ actor: `device:${ep}`, action: 'lwm2m.register', subject: ep, outcome: 'allow' as const, details: { ep } }));
      const out = await store.appendAuditAndPutRegistrations(audit, [
        { ...base, id: 'a1', endpoint: 'ep-a' },
        { ...base, id: 'x1', endpoint: 'nobody' },
        { ...base, id: 'b1', endpoint: 'ep-b' },
      ]);
      assert.deepEqual(out.audit.map((r) => [r.seq, r.subject]), [[2, 'ep-a'], [3, 'nobody'], [4, 'ep-b']]);
      assert.equal(out.audit[0]!.prevHash, first.hash);
      assert.deepEqual(await store.audit.list({ after: 1 }), out.audit);
      assert.deepEqual(out.registrations[0], { ok: true, replaced: undefined });
      assert.ok(!out.registrations[1]!.ok && hasCode('ERR_STORE_NOT_FOUND')(out.registrations[1]!.error));
      assert.equal(out.registrations[2]!.ok && out.registrations[2]!.replaced?.id, 'old-b');
      assert.deepEqual((await store.registrations.list()).map((r) => r.id), ['a1', 'b1']);
      // Arguments are checked before anything is written.
      await assert.rejects(store.appendAuditAndPutRegistrations([audit[0]!], [{ ...base, id: 'bad/id', endpoint: 'ep-a' }]), hasCode('ERR_INVALID_ARGUMENT'));
      await assert.rejects(store.appendAuditAndPutRegistrations([{ ...audit[0]!, actor: '' }], [{ ...base, id: 'a2', endpoint: 'ep-a' }]), hasCode('ERR_INVALID_ARGUMENT'));
      assert.equal((await store.audit.list()).length, 4);
      assert.equal((await store.registrations.getByEndpoint('ep-a'))?.id, 'a1');
      assert.deepEqual(await store.audit.verify(), { ok: true, count: 4, lastHash: out.audit[2]!.hash });
    });

    test('appendAuditAndPutRegistrations: a failure of either part rolls back both', async (t) => {
      const { open, harness } = await setup(t, backend);
      const store = await open();
      await store.devices.create({ endpoint: 'ep-a' });
      const base = {
        lifetime: 300, lwm2mVersion: '1.1', binding: 'U', queueMode: false, smsNumber: null, objectLinks: '</1/0>',
        security: 'psk' as const, peer: '127.0.0.1:5000', registeredAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-01T00:05:00.000Z',
      };
      const entry = { actor: 'device:ep-a', action: 'lwm2m.register', subject: 'ep-a', outcome: 'allow' as const };
      const [kept] = await appendMany(store, 1);
      // The registration part fails as a whole (its table is gone): the audit records go too.
      await harness.raw('ALTER TABLE lwm2m_registrations RENAME TO lwm2m_registrations_away');
      await assert.rejects(store.appendAuditAndPutRegistrations!([entry, entry], [{ ...base, id: 'a1', endpoint: 'ep-a' }]));
      assert.deepEqual(await store.audit.list(), [kept]);
      assert.deepEqual(await store.audit.verify(), { ok: true, count: 1, lastHash: kept!.hash });
      await harness.raw('ALTER TABLE lwm2m_registrations_away RENAME TO lwm2m_registrations');
      // The audit part fails (a record written around the store at the next seq): no registration.
      await harness.raw(
        `INSERT INTO audit_log (seq, at, actor, action, subject, outcome, details, prev_hash, hash)
         VALUES (2, '2026-01-01T00:00:00.000Z', 'x', 'x', 'x', 'allow', '{}', '${kept!.hash}', '${'f'.repeat(64)}')`,
        { bypassTriggers: true },
      );
      await assert.rejects(store.appendAuditAndPutRegistrations!([entry], [{ ...base, id: 'a2', endpoint: 'ep-a' }]), hasCode('ERR_STORE_CORRUPT'));
      assert.equal(await store.registrations.count(), 0);
      assert.equal(await store.registrations.get('a2'), undefined);
    });

    test('updateDeviceAudited: the update and its record in one transaction, compare-and-set on the ownership state', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      assert.ok(store.updateDeviceAudited !== undefined, `${backend.name} implements updateDeviceAudited`);
      await store.devices.create({ endpoint: 'ep-a', ownershipState: 'RFOTM', attributes: { k: 1 } });
      const first = await store.audit.append({ actor: 'system', action: 'device.create', subject: 'ep-a', outcome: 'success' });
      const entry = (from: string, to: string) => ({ actor: 'device:ep-a', action: 'ownership.transition', subject: 'ep-a', outcome: 'success' as const, details: { event: 'e', from, to } });
      const done = await store.updateDeviceAudited('ep-a', { ownershipState: 'RFPRO' }, entry('RFOTM', 'RFPRO'), { expectedState: 'RFOTM' });
      assert.ok(done !== undefined);
      assert.equal(done.device.ownershipState, 'RFPRO');
      assert.deepEqual(done.device.attributes, { k: 1 });
      assert.deepEqual(await store.devices.get('ep-a'), done.device);
      assert.deepEqual([done.audit.seq, done.audit.prevHash, done.audit.details], [2, first.hash, { event: 'e', from: 'RFOTM', to: 'RFPRO' }]);
      assert.deepEqual(await store.audit.list({ after: 1 }), [done.audit]);
      // A stale expected state: nothing written, neither the device nor a record.
      assert.equal(await store.updateDeviceAudited('ep-a', { ownershipState: 'RFNOP' }, entry('RFOTM', 'RFNOP'), { expectedState: 'RFOTM' }), undefined);
      assert.equal((await store.devices.get('ep-a'))?.ownershipState, 'RFPRO');
      assert.equal((await store.audit.list()).length, 2);
      // Without a condition it is update() + append(); other patch fields too.
      const plain = await store.updateDeviceAudited('ep-a', { firmwareVersion: '2.0', tags: ['x'] }, { actor: 'system', action: 'device.update', subject: 'ep-a', outcome: 'success' });
      assert.deepEqual([plain?.device.firmwareVersion, plain?.device.tags, plain?.device.ownershipState, plain?.audit.seq], ['2.0', ['x'], 'RFPRO', 3]);
      // An unknown device: ERR_STORE_NOT_FOUND, with or without a condition, and no record.
      await assert.rejects(store.updateDeviceAudited('ghost', { ownershipState: 'RFNOP' }, entry('RFPRO', 'RFNOP'), { expectedState: 'RFPRO' }), hasCode('ERR_STORE_NOT_FOUND'));
      await assert.rejects(store.updateDeviceAudited('ghost', { ownershipState: 'RFNOP' }, entry('RFPRO', 'RFNOP')), hasCode('ERR_STORE_NOT_FOUND'));
      // Arguments are checked first, in this order.
      for (const [call, re] of [
        [store.updateDeviceAudited('', {}, entry('a', 'b')), /endpoint/],
        [store.updateDeviceAudited('ep-a', { endpoint: 'x' } as never, entry('a', 'b')), /patch\.endpoint/],
        [store.updateDeviceAudited('ep-a', { ownershipState: 'NOPE' as never }, entry('a', 'b')), /patch\.ownershipState/],
        [store.updateDeviceAudited('ep-a', {}, { ...entry('a', 'b'), actor: '' }), /audit\.actor/],
        [store.updateDeviceAudited('ep-a', {}, entry('a', 'b'), { expectedState: 'NOPE' as never }), /options\.expectedState/],
        [store.updateDeviceAudited('ep-a', {}, entry('a', 'b'), { expected: 'RFPRO' } as never), /options\.expected/],
      ] as const) {
        await assert.rejects(call, (err: Error) => hasCode('ERR_INVALID_ARGUMENT')(err) && re.test(err.message));
      }
      assert.equal((await store.audit.list()).length, 3);
      assert.deepEqual(await store.audit.verify(), { ok: true, count: 3, lastHash: plain!.audit.hash });
    });

    test('updateDeviceAudited: a refused record rolls the update back; two stores racing one compare-and-set, one wins', async (t) => {
      const { open, harness } = await setup(t, backend);
      const store = await open();
      await store.devices.create({ endpoint: 'ep-a', ownershipState: 'RFPRO' });
      const [kept] = await appendMany(store, 1);
      await harness.raw(
        `INSERT INTO audit_log (seq, at, actor, action, subject, outcome, details, prev_hash, hash)
         VALUES (2, '2026-01-01T00:00:00.000Z', 'x', 'x', 'x', 'allow', '{}', '${kept!.hash}', '${'f'.repeat(64)}')`,
        { bypassTriggers: true },
      );
      const entry = { actor: 'device:ep-a', action: 'ownership.transition', subject: 'ep-a', outcome: 'success' as const, details: { from: 'RFPRO', to: 'RFNOP' } };
      await assert.rejects(store.updateDeviceAudited!('ep-a', { ownershipState: 'RFNOP' }, entry, { expectedState: 'RFPRO' }), hasCode('ERR_STORE_CORRUPT'));
      assert.equal((await store.devices.get('ep-a'))?.ownershipState, 'RFPRO');

      const fresh = await setup(t, backend);
      const a = await fresh.open();
      const b = await fresh.open();
      for (let i = 0; i < 10; i++) {
        const ep = `race-${i}`;
        await a.devices.create({ endpoint: ep, ownershipState: 'RFPRO' });
        const tries = [a, b, a, b].map((s) => s.updateDeviceAudited!(ep, { ownershipState: 'RFNOP' }, { ...entry, subject: ep }, { expectedState: 'RFPRO' }));
        const won = (await Promise.all(tries)).filter((r) => r !== undefined);
        assert.equal(won.length, 1, `exactly one compare-and-set on ${ep} wins`);
        assert.equal((await a.audit.list({ subject: ep })).length, 1);
      }
      assert.equal((await a.audit.verify()).ok, true);
    });

    test('appendRequestLogAndAudit: the MASA request log entry and its audit record in one transaction', async (t) => {
      const { open, harness } = await setup(t, backend);
      const store = await open();
      assert.ok(store.appendRequestLogAndAudit !== undefined, `${backend.name} implements appendRequestLogAndAudit`);
      const first = await store.audit.append({ actor: 'system', action: 'x.y', subject: 'SN-1', outcome: 'allow' });
      const log = (i: number) => ({ serial: 'SN-1', date: `2030-01-01T00:00:0${i}Z`, domainId: 'ZG9t', nonce: null, assertion: 'proximity' });
      const entry = { actor: 'registrar:r', action: 'masa.voucher.issue', subject: 'SN-1', outcome: 'success' as const, details: { format: 'cose' } };
      const record = await store.appendRequestLogAndAudit(log(1), entry);
      assert.deepEqual([record.seq, record.prevHash, record.action, record.details], [2, first.hash, 'masa.voucher.issue', { format: 'cose' }]);
      assert.deepEqual(await store.audit.list({ after: 1 }), [record]);
      assert.deepEqual(await store.masa.requestLog('SN-1', 10), { entries: [log(1)], total: 1 });
      // Arguments are checked before anything is written.
      await assert.rejects(store.appendRequestLogAndAudit({ ...log(2), serial: '' }, entry), hasCode('ERR_INVALID_ARGUMENT'));
      await assert.rejects(store.appendRequestLogAndAudit(log(2), { ...entry, outcome: 'maybe' as never }), hasCode('ERR_INVALID_ARGUMENT'));
      // An audit record the database refuses rolls the log entry back.
      await harness.raw(
        `INSERT INTO audit_log (seq, at, actor, action, subject, outcome, details, prev_hash, hash)
         VALUES (3, '2026-01-01T00:00:00.000Z', 'x', 'x', 'x', 'allow', '{}', '${record.hash}', '${'f'.repeat(64)}')`,
        { bypassTriggers: true },
      );
      await assert.rejects(store.appendRequestLogAndAudit(log(3), entry), hasCode('ERR_STORE_CORRUPT'));
      assert.equal((await store.masa.requestLog('SN-1', 10)).total, 1);
    });

    test('bootstrap configs: set replaces, get round-trips JSON, unknown device refused, cascade', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      await store.devices.create({ endpoint: 'bs-1' });
      assert.equal(await store.bootstrapConfigs.get('bs-1'), undefined);
      const config = { servers: [{ shortServerId: 1, lifetime: 300, binding: 'U' }], security: [{ uri: 'coaps://h:5684', mode: 'psk', pskIdentity: 'x' }] };
      const rec = await store.bootstrapConfigs.set('bs-1', config);
      assert.deepEqual(rec.config, config);
      assert.deepEqual((await store.bootstrapConfigs.get('bs-1'))?.config, config);
      await store.bootstrapConfigs.set('bs-1', { servers: [] });
      assert.deepEqual((await store.bootstrapConfigs.get('bs-1'))?.config, { servers: [] });
      await assert.rejects(store.bootstrapConfigs.set('ghost', {}), hasCode('ERR_STORE_NOT_FOUND'));
      await assert.rejects(store.bootstrapConfigs.set('bs-1', [] as never), hasCode('ERR_INVALID_ARGUMENT'));
      await store.devices.delete('bs-1');
      assert.equal(await store.bootstrapConfigs.get('bs-1'), undefined);
      assert.equal(await store.bootstrapConfigs.delete('bs-1'), false);
    });

    test('a closed store refuses work with ERR_STORE_CLOSED', async (t) => {
      const { open } = await setup(t, backend);
      const store = await open();
      await store.close();
      await store.close();
      await assert.rejects(store.devices.get('x'), hasCode('ERR_STORE_CLOSED'));
      await assert.rejects(store.audit.append({ actor: 'a', action: 'b', subject: 'c', outcome: 'allow' }), hasCode('ERR_STORE_CLOSED'));
      await assert.rejects(store.settings.get('k'), hasCode('ERR_STORE_CLOSED'));
    });

    registerCampaignContract(backend);
    registerFirmwareContract(backend);
  });
}

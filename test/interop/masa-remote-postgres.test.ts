/**
 * The MASA as a multi-node service: two `rootline masa serve` processes for one factory share one
 * PostgreSQL store. Two domains' registrars ask for the same device at the same moment, one at
 * each node, round after round: exactly one gets a voucher, the other 403
 * ERR_ONBOARDING_ALREADY_OWNED, and the store names the winner as owner.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { ownerKeyOf } from '../../src/onboarding/masa.js';
import { signVoucherRequest } from '../../src/onboarding/signed-voucher.js';
import { createRootCa, domainCaPolicy } from '../../src/pki/index.js';
import { openPostgresStore } from '../../src/store/postgres/store.js';
import { runCli } from '../cli/io.js';
import { postgresSkip, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { createTestDomain, type TestDomain } from '../onboarding/brski-fixture.js';

const skip = postgresSkip();
const REPO = resolve(import.meta.dirname, '../..');
const ROUNDS = 8;

interface Node {
  url: string;
  stop(): Promise<number | null>;
  stderr(): string;
}

async function startMasaNode(args: string[]): Promise<Node> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main-entry.ts'), 'masa', 'serve', ...args], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-100_000)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = await new Promise<string>((done, fail) => {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /^rootline: masa listening on (\S+)$/m.exec(out);
      if (m !== null) done(m[1]!);
    });
    void exited.then((code) => fail(new Error(`masa serve exited (${code}) before listening:\n${err}`)));
  });
  return {
    url,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

function post(url: string, ca: string, body: Uint8Array): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const req = httpsRequest(url, { method: 'POST', ca, headers: { 'content-type': 'application/voucher-cms+json', 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(Buffer.from(body));
  });
}

describe('two rootline masa serve nodes on one PostgreSQL', { skip }, () => {
  let server: PostgresServer | undefined;
  let dir: string;
  let cs: string;
  let caPem: string;
  const nodes: Node[] = [];
  let acme: TestDomain;
  let other: TestDomain;

  before(async () => {
    server = await startPostgres();
    cs = await server.createDatabase();
    dir = mkdtempSync(join(tmpdir(), 'rootline-masa-nodes-'));
    const mfr = join(dir, 'manufacturer');
    const env = { ROOTLINE_STORE_URL: cs };
    const init = await runCli(['factory', 'init', '--data', mfr, '--masa-url', 'https://masa.acme.example', '--manufacturer', 'Acme'], { env, cwd: dir });
    assert.equal(init.code, 0, init.stderr);
    for (let i = 0; i < ROUNDS; i++) {
      const mint = await runCli(['factory', 'mint', '--data', mfr, '--serial', `N-${i}`, '--model', 'Meter', '--out', `device-${i}`], { env, cwd: dir });
      assert.equal(mint.code, 0, mint.stderr);
    }
    const tlsCa = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=MASA TLS CA', validityDays: 30 });
    const tlsKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const tlsCert = await domainCaPolicy.issueServerCertificate(tlsCa, { publicKey: keyObjectSigner(tlsKey).publicKey, subjectAltNames: { ip: ['127.0.0.1'] }, validityDays: 10 });
    caPem = tlsCa.chainPem;
    writeFileSync(join(dir, 'tls.pem'), tlsCert.pem + tlsCa.chainPem);
    writeFileSync(join(dir, 'tls.key'), tlsKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    const args = ['--data', mfr, '--store', cs, '--tls-cert', join(dir, 'tls.pem'), '--tls-key', join(dir, 'tls.key'), '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'];
    nodes.push(...(await Promise.all([startMasaNode(args), startMasaNode(args)])));
    acme = await createTestDomain('acme');
    other = await createTestDomain('other');
  });

  after(async () => {
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    if (nodes.length > 0) assert.deepEqual(codes, nodes.map(() => 0), nodes.map((n) => n.stderr()).join('\n'));
    await server?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('the same device asked for by two domains at two nodes: one voucher, one refusal, every round', async () => {
    const winners: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const serial = `N-${i}`;
      const idevidPem = readFileSync(join(dir, `device-${i}`, 'idevid.pem'), 'utf8');
      const signer = keyObjectSigner(createPrivateKey(readFileSync(join(dir, `device-${i}`, 'idevid.key'), 'utf8')));
      const requestFor = async (d: TestDomain): Promise<Uint8Array> => {
        const nonce = new Uint8Array(randomBytes(16));
        const pledge = await signVoucherRequest({ createdOn: new Date(), assertion: 'proximity', serialNumber: serial, nonce, proximityRegistrarCert: d.registrarCert.der }, { signer, certificates: [idevidPem] });
        return d.registrarRequest(pledge, { serialNumber: serial, nonce });
      };
      const [a, b] = [await requestFor(acme), await requestFor(other)];
      const [toAcme, toOther] = i % 2 === 0 ? [nodes[0]!, nodes[1]!] : [nodes[1]!, nodes[0]!];
      const [ra, rb] = await Promise.all([post(`${toAcme.url}/.well-known/brski/requestvoucher`, caPem, a), post(`${toOther.url}/.well-known/brski/requestvoucher`, caPem, b)]);
      const statuses = [ra.status, rb.status].sort();
      assert.deepEqual(statuses, [200, 403], `round ${i}: ${ra.status} ${ra.text.slice(0, 200)} / ${rb.status} ${rb.text.slice(0, 200)}`);
      const refused = ra.status === 403 ? ra : rb;
      assert.equal((JSON.parse(refused.text) as { code: string }).code, 'ERR_ONBOARDING_ALREADY_OWNED');
      winners.push(ra.status === 200 ? 'acme' : 'other');
    }
    const store = await openPostgresStore({ connectionString: cs });
    try {
      for (let i = 0; i < ROUNDS; i++) {
        const claim = await store.masa.getClaim(`N-${i}`);
        const winner = winners[i] === 'acme' ? acme : other;
        assert.equal(claim?.owner, ownerKeyOf(winner.ca.certificate), `N-${i}`);
        const issued = await store.audit.list({ subject: `N-${i}`, action: 'masa.voucher.issue' });
        assert.equal(issued.length, 1, `N-${i}: one voucher issued`);
      }
      assert.equal((await store.audit.list({ action: 'masa.start' })).length, 2, 'two nodes started on this store');
    } finally {
      await store.close();
    }
  });
});

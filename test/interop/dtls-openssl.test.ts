/**
 * Interop with a real peer: our DTLS server against `openssl s_client -dtls1_2`, and our
 * client against `openssl s_server -dtls1_2`, for every suite OpenSSL offers from our list,
 * exchanging application data both ways.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer } from '../helpers/peers.js';
import { createDtlsServer, type DtlsServer } from '../../src/dtls/server.js';
import { connectDtls } from '../../src/dtls/client.js';
import type { ServerSession } from '../../src/dtls/server-session.js';
import type { PeerIdentity } from '../../src/dtls/connection.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { isRootlineError } from '../../src/errors.js';

const skip = requirePeer('openssl', ['openssl'], 'apt-get install openssl');
const PSK_HEX = '00112233445566778899aabbccddeeff';
const PSK = Buffer.from(PSK_HEX, 'hex');

const children = new Set<ChildProcessWithoutNullStreams>();

function runOpenssl(args: string[]): { child: ChildProcessWithoutNullStreams; output: () => string; waitFor: (text: string) => Promise<void> } {
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const onData = (d: Buffer): void => {
    out += d.toString('latin1');
    for (const w of [...waiters]) {
      if (out.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.on('exit', () => {
    children.delete(child);
    for (const w of waiters) w.resolve();
  });
  return {
    child,
    output: () => out,
    waitFor: (text) =>
      new Promise<void>((resolve) => {
        if (out.includes(text) || child.exitCode !== null) resolve();
        else waiters.push({ text, resolve });
      }),
  };
}

function kill(child: ChildProcessWithoutNullStreams): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const SUITES = [
  { openssl: 'PSK-AES128-CCM8', id: 0xc0a8, psk: true },
  { openssl: 'PSK-AES128-GCM-SHA256', id: 0x00a8, psk: true },
  { openssl: 'PSK-ARIA128-GCM-SHA256', id: 0xc06a, psk: true },
  { openssl: 'ECDHE-ECDSA-AES128-CCM8', id: 0xc0ae, psk: false },
  { openssl: 'ECDHE-ECDSA-AES128-GCM-SHA256', id: 0xc02b, psk: false },
  { openssl: 'ECDHE-ECDSA-ARIA128-GCM-SHA256', id: 0xc05c, psk: false },
];

describe('DTLS interop with openssl', { skip, timeout: 120_000 }, () => {
  let dir = '';
  let certPem = '';
  let keyPem = '';
  let certDer: Uint8Array = new Uint8Array(0);
  let clientCertDer: Uint8Array = new Uint8Array(0);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rootline-dtls-'));
    for (const name of ['server', 'client']) {
      const r = spawnSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
        '-subj', `/CN=rootline-${name}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`),
      ]);
      assert.equal(r.status, 0, r.stderr.toString());
    }
    certPem = join(dir, 'server.pem');
    keyPem = join(dir, 'server.key');
    certDer = new X509Certificate(readFileSync(certPem)).raw;
    clientCertDer = new X509Certificate(readFileSync(join(dir, 'client.pem'))).raw;
  });

  after(() => {
    for (const c of children) kill(c);
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  async function serverFor(extra: { clientAuth?: boolean } = {}): Promise<{ server: DtlsServer; sessions: ServerSession[] }> {
    const server = await createDtlsServer({
      port: 0,
      psk: { lookup: (id) => (id === 'device-1' ? PSK : undefined), identityHint: 'rootline' },
      certificate: { signer: keyObjectSigner(createPrivateKey(readFileSync(keyPem))), chain: [certDer] },
      clientAuth: extra.clientAuth === true ? { verify: (id) => id.type === 'x509' && Buffer.from(id.chain[0]!).equals(clientCertDer) } : undefined,
      retransmit: { initialMs: 300 },
    });
    const sessions: ServerSession[] = [];
    server.on('session', (s: ServerSession) => {
      sessions.push(s);
      s.on('data', (d: Uint8Array) => {
        if (Buffer.from(d).toString().includes('hello-from-openssl')) s.send(Buffer.from('hello-from-rootline\n'));
      });
    });
    return { server, sessions };
  }

  for (const suite of SUITES) {
    it(`our server ⇄ s_client: ${suite.openssl}`, async () => {
      const { server, sessions } = await serverFor();
      const port = server.address().port;
      const creds = suite.psk ? ['-psk_identity', 'device-1', '-psk', PSK_HEX] : [];
      const p = runOpenssl(['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-cipher', `${suite.openssl}:@SECLEVEL=0`, '-quiet', ...creds]);
      try {
        p.child.stdin.write('hello-from-openssl\n');
        await p.waitFor('hello-from-rootline');
        assert.match(p.output(), /hello-from-rootline/);
        assert.equal(sessions.length, 1);
        assert.equal(sessions[0]!.cipherSuite?.id, suite.id);
        if (suite.psk) assert.deepEqual(sessions[0]!.identity.type === 'psk' && sessions[0]!.identity.identity, 'device-1');
      } finally {
        kill(p.child);
        await server.close();
      }
    });
  }

  it('our server refuses an unknown PSK identity (s_client gets no session)', async () => {
    const { server, sessions } = await serverFor();
    const errors: unknown[] = [];
    server.on('handshakeError', (e) => errors.push(e));
    const p = runOpenssl(['s_client', '-dtls1_2', '-connect', `127.0.0.1:${server.address().port}`, '-cipher', 'PSK-AES128-CCM8', '-quiet', '-psk_identity', 'intruder', '-psk', PSK_HEX]);
    try {
      await new Promise<void>((resolve) => p.child.on('exit', () => resolve()));
      assert.equal(sessions.length, 0);
      assert.ok(errors.some((e) => isRootlineError(e, 'ERR_DTLS_UNKNOWN_PSK_IDENTITY')));
      assert.match(p.output(), /unknown psk identity/i);
    } finally {
      kill(p.child);
      await server.close();
    }
  });

  it('our server with client authentication ⇄ s_client presenting a certificate', async () => {
    const { server, sessions } = await serverFor({ clientAuth: true });
    const p = runOpenssl([
      's_client', '-dtls1_2', '-connect', `127.0.0.1:${server.address().port}`, '-cipher', 'ECDHE-ECDSA-AES128-CCM8:@SECLEVEL=0', '-quiet',
      '-cert', join(dir, 'client.pem'), '-key', join(dir, 'client.key'),
    ]);
    try {
      p.child.stdin.write('hello-from-openssl\n');
      await p.waitFor('hello-from-rootline');
      assert.match(p.output(), /hello-from-rootline/);
      const id = sessions[0]!.identity;
      assert.equal(id.type, 'x509');
      assert.ok(id.type === 'x509' && Buffer.from(id.chain[0]!).equals(clientCertDer));
    } finally {
      kill(p.child);
      await server.close();
    }
  });

  for (const suite of SUITES) {
    it(`our client ⇄ s_server: ${suite.openssl}`, async () => {
      const port = await freeUdpPort();
      const creds = suite.psk ? ['-nocert', '-psk', PSK_HEX, '-psk_identity', 'device-1'] : ['-cert', certPem, '-key', keyPem];
      const p = runOpenssl(['s_server', '-dtls1_2', '-accept', `127.0.0.1:${port}`, '-cipher', `${suite.openssl}:@SECLEVEL=0`, ...creds]);
      try {
        await p.waitFor('ACCEPT');
        const seen: PeerIdentity[] = [];
        const session = await connectDtls({
          host: '127.0.0.1',
          port,
          cipherSuites: [suite.id],
          psk: suite.psk ? { identity: 'device-1', key: PSK } : undefined,
          verifyServer: suite.psk ? undefined : (id) => (seen.push(id), id.type === 'x509' && Buffer.from(id.chain[0]!).equals(certDer)),
          retransmit: { initialMs: 300 },
        });
        try {
          assert.equal(session.cipherSuite?.id, suite.id);
          if (!suite.psk) assert.equal(seen.length, 1);
          session.send(Buffer.from('hello-from-rootline\n'));
          await p.waitFor('hello-from-rootline');
          assert.match(p.output(), /hello-from-rootline/);
          const got = new Promise<Uint8Array>((resolve) => session.once('data', resolve));
          p.child.stdin.write('hello-from-openssl\n');
          assert.match(Buffer.from(await got).toString(), /hello-from-openssl/);
        } finally {
          session.close();
        }
      } finally {
        kill(p.child);
      }
    });
  }

  it('our server resumes an s_client session (-sess_out / -sess_in)', async () => {
    const { server, sessions } = await serverFor();
    const sessFile = join(dir, 'session.pem');
    const args = ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${server.address().port}`, '-cipher', 'PSK-AES128-GCM-SHA256', '-psk_identity', 'device-1', '-psk', PSK_HEX];
    try {
      for (const [flag, expect] of [['-sess_out', /^New, /m], ['-sess_in', /^Reused, /m]] as const) {
        const p = runOpenssl([...args, flag, sessFile]);
        try {
          p.child.stdin.write('hello-from-openssl\n');
          await p.waitFor('hello-from-rootline');
          assert.match(p.output(), expect);
        } finally {
          kill(p.child);
        }
      }
      assert.deepEqual(sessions.map((s) => s.resumed), [false, true]);
    } finally {
      await server.close();
    }
  });

  it('our client resumes a session with s_server', async () => {
    const port = await freeUdpPort();
    const p = runOpenssl(['s_server', '-dtls1_2', '-accept', `127.0.0.1:${port}`, '-nocert', '-psk', PSK_HEX, '-psk_identity', 'device-1', '-cipher', 'PSK-AES128-CCM8']);
    try {
      await p.waitFor('ACCEPT');
      const opts = { host: '127.0.0.1', port, psk: { identity: 'device-1', key: PSK }, retransmit: { initialMs: 300 } };
      const first = await connectDtls(opts);
      const state = first.resumption;
      assert.ok(state !== undefined, 's_server gave a session ID');
      first.close();
      // s_server serves one connection at a time; our retransmissions cover the moment it
      // takes to return to accepting.
      const second = await connectDtls({ ...opts, resume: state });
      try {
        assert.equal(second.resumed, true);
        second.send(Buffer.from('resumed-hello\n'));
        await p.waitFor('resumed-hello');
        assert.match(p.output(), /Reused session-id/);
        assert.match(p.output(), /resumed-hello/);
      } finally {
        second.close();
      }
    } finally {
      kill(p.child);
    }
  });

  it('our client refuses a server certificate its callback rejects', async () => {
    const port = await freeUdpPort();
    const p = runOpenssl(['s_server', '-dtls1_2', '-accept', `127.0.0.1:${port}`, '-cert', certPem, '-key', keyPem, '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256']);
    try {
      await p.waitFor('ACCEPT');
      await assert.rejects(
        connectDtls({ host: '127.0.0.1', port, cipherSuites: [0xc02b], verifyServer: () => false, retransmit: { initialMs: 300 } }),
        (e) => isRootlineError(e, 'ERR_DTLS_BAD_CERTIFICATE'),
      );
    } finally {
      kill(p.child);
    }
  });

  it('our client with a wrong PSK gets no session (OpenSSL drops the bad Finished; our retransmissions run out)', async () => {
    const port = await freeUdpPort();
    const p = runOpenssl(['s_server', '-dtls1_2', '-accept', `127.0.0.1:${port}`, '-nocert', '-psk', PSK_HEX, '-psk_identity', 'device-1', '-cipher', 'PSK-AES128-CCM8']);
    try {
      await p.waitFor('ACCEPT');
      await assert.rejects(
        connectDtls({ host: '127.0.0.1', port, psk: { identity: 'device-1', key: Buffer.alloc(16, 1) }, retransmit: { initialMs: 100, maxRetransmissions: 2 } }),
        (e) => isRootlineError(e, 'ERR_DTLS_HANDSHAKE_TIMEOUT') || isRootlineError(e, 'ERR_DTLS_ALERT_RECEIVED'),
      );
    } finally {
      kill(p.child);
    }
  });
});

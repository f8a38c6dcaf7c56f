/**
 * bench/certificate-read.ts — CPU per certificate of the hot-path certificate reads, old and new:
 *   the DTLS peer key of a certificate not seen before (X509Certificate.publicKey against the
 *   strict DER walk + P-256 import, with the shared key cache cleared by fresh keys), and the
 *   LwM2M server's certificate facts (X509Certificate + subject string against the walk).
 * Run: node --expose-gc --import tsx bench/certificate-read.ts   (CPU µs from process.cpuUsage;
 * the machine is shared: read CPU time, not wall time, and quote the load average.)
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { loadavg } from 'node:os';
import { importP256Spki, readCertificateFields } from '../src/crypto/certificate-fields.js';
import { factsByWalk, factsByX509 } from '../src/lwm2m/server/identity.js';
import { selfSigned } from '../test/dtls/helpers.js';

const N = 400;
const certs: Uint8Array[] = [];
for (let i = 0; i < N; i++) certs.push((await selfSigned(`urn:dev:ops:bench-${i}`)).der);

function cpu(name: string, rounds: number, f: (d: Uint8Array) => unknown, list: Uint8Array[] = certs): void {
  const runs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    (globalThis as { gc?: () => void }).gc?.();
    const c0 = process.cpuUsage();
    for (const d of list) f(d);
    const c = process.cpuUsage(c0);
    runs.push((c.user + c.system) / list.length);
  }
  runs.sort((a, b) => a - b);
  console.log(`${name.padEnd(52)} median ${runs[runs.length >> 1]!.toFixed(1)} µs CPU per certificate (${rounds} rounds of ${list.length})`);
}

console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
cpu('old: new X509Certificate(der).publicKey', 9, (d) => new X509Certificate(Buffer.from(d)).publicKey);
cpu('new: DER walk only', 9, (d) => readCertificateFields(d));
cpu('new: DER walk + SPKI decoder (no JWK)', 9, (d) => createPublicKey({ key: Buffer.from(readCertificateFields(d)!.spki), format: 'der', type: 'spki' }));
// The shared P-256 cache would answer repeats: each round gets certificates with fresh keys.
const rounds: Uint8Array[][] = [];
for (let r = 0; r < 9; r++) {
  const list: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) list.push((await selfSigned(`urn:dev:ops:fresh-${r}-${i}`)).der);
  rounds.push(list);
}
let round = 0;
const runs: number[] = [];
for (const list of rounds) {
  const c0 = process.cpuUsage();
  for (const d of list) importP256Spki(readCertificateFields(d)!.spki);
  const c = process.cpuUsage(c0);
  runs.push((c.user + c.system) / list.length);
  round++;
}
runs.sort((a, b) => a - b);
console.log(`${'new: DER walk + P-256 point import (uncached keys)'.padEnd(52)} median ${runs[runs.length >> 1]!.toFixed(1)} µs CPU per certificate (${round} rounds of 200)`);
cpu('new: DER walk + P-256 import (key cached)', 9, (d) => importP256Spki(readCertificateFields(d)!.spki));
cpu('old: certificate facts by X509Certificate', 9, factsByX509);
cpu('new: certificate facts by DER walk', 9, factsByWalk);
console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

// Crypto throughput: LEA-128 (ours, in JavaScript) in CTR and GCM next to AES-128-GCM and
// ARIA-128-GCM from OpenSSL (node:crypto), all measured in this run on this machine.
// Prints a table of MB/s (10^6 bytes per CPU-second of this process) for 1 KiB and 16 KiB messages,
// then one line of JSON (the 16 KiB figures). Each figure is the best of five trials.
// Usage: npm run bench:crypto   (BENCH_SECONDS=… sets the CPU seconds per case, default 0.8)
import { createCipheriv, randomBytes } from 'node:crypto';
import { createAead } from '../src/crypto/aead.js';
import { createBlockCipher } from '../src/crypto/block-cipher.js';
import { ctrCrypt } from '../src/crypto/ctr.js';

const SECONDS_PER_CASE = Number(process.env.BENCH_SECONDS ?? 0.8);

/**
 * MB/s of `fn` (which processes `bytesPerCall` bytes) per second of this process's CPU time
 * (user + system), best of five equal trials. CPU time rather than wall-clock time because the
 * machine may be shared: other processes then slow the wall clock, not our CPU seconds. Every
 * case, ours and OpenSSL's, runs synchronously on this thread, so all are measured alike.
 */
function measure(fn: () => void, bytesPerCall: number): number {
  for (let i = 0; i < 20; i++) fn(); // warm-up: let V8 optimise the hot path
  const trialMicros = (SECONDS_PER_CASE / 5) * 1e6;
  let best = 0;
  for (let trial = 0; trial < 5; trial++) {
    let calls = 0;
    const start = process.cpuUsage();
    let used = 0;
    while (used < trialMicros) {
      for (let i = 0; i < 8; i++) fn();
      calls += 8;
      const d = process.cpuUsage(start);
      used = d.user + d.system;
    }
    best = Math.max(best, (calls * bytesPerCall) / (used / 1e6) / 1e6);
  }
  return best;
}

const key = new Uint8Array(randomBytes(16));
const nonce = new Uint8Array(randomBytes(12));
const aad = new Uint8Array(randomBytes(13));
const lea = createBlockCipher('LEA', key);
const leaGcm = createAead('LEA-128-GCM', key);
const leaCcm = createAead('LEA-128-CCM', key);
const aesGcm = createAead('AES-128-GCM', key);
const ariaGcm = createAead('ARIA-128-GCM', key);

const sizes = [1024, 16384] as const;
type Row = { name: string; impl: string; mbps: Record<number, number> };
const rows: Row[] = [];
function row(name: string, impl: string, make: (msg: Uint8Array) => () => void): Row {
  const r: Row = { name, impl, mbps: {} };
  for (const size of sizes) {
    const msg = new Uint8Array(randomBytes(size));
    r.mbps[size] = measure(make(msg), size);
  }
  rows.push(r);
  return r;
}

const counter = new Uint8Array(16);
const leaEcb = row('LEA-128 block (ECB)', 'rootline (JS)', (msg) => {
  const out = new Uint8Array(msg.length);
  return () => lea.encryptBlocks(msg, out);
});
const leaCtr = row('LEA-128-CTR', 'rootline (JS)', (msg) => () => void ctrCrypt(lea, counter, msg));
const leaGcmRow = row('LEA-128-GCM seal', 'rootline (JS)', (msg) => () => void leaGcm.seal(nonce, msg, aad));
const leaCcmRow = row('LEA-128-CCM seal', 'rootline (JS)', (msg) => () => void leaCcm.seal(nonce, msg, aad));
const aesGcmRow = row('AES-128-GCM seal', 'OpenSSL via createAead', (msg) => () => void aesGcm.seal(nonce, msg, aad));
const ariaGcmRow = row('ARIA-128-GCM seal', 'OpenSSL via createAead', (msg) => () => void ariaGcm.seal(nonce, msg, aad));
row('AES-128-GCM (raw node:crypto)', 'OpenSSL', (msg) => () => {
  const c = createCipheriv('aes-128-gcm', key, nonce);
  c.setAAD(aad);
  c.update(msg);
  c.final();
  c.getAuthTag();
});

const fmt = (x: number) => x.toFixed(1).padStart(10);
console.log(`${'cipher / mode'.padEnd(32)}${'implementation'.padEnd(26)}${'1 KiB MB/s'.padStart(10)}${'16 KiB MB/s'.padStart(12)}`);
for (const r of rows) console.log(`${r.name.padEnd(32)}${r.impl.padEnd(26)}${fmt(r.mbps[1024]!)}${fmt(r.mbps[16384]!).padStart(12)}`);
console.log(`(node ${process.version}, MB per CPU-second, best of 5 trials in ${SECONDS_PER_CASE} CPU-s per case; LEA-128 ECB shown for reference)`);

const round = (x: number) => Math.round(x * 10) / 10;
console.log(
  JSON.stringify({
    bench: 'crypto',
    message_bytes: 16384,
    lea128_ctr_mbps: round(leaCtr.mbps[16384]!),
    lea128_gcm_mbps: round(leaGcmRow.mbps[16384]!),
    aes128_gcm_openssl_mbps: round(aesGcmRow.mbps[16384]!),
    aria128_gcm_openssl_mbps: round(ariaGcmRow.mbps[16384]!),
    lea128_ctr_1k_mbps: round(leaCtr.mbps[1024]!),
    lea128_gcm_1k_mbps: round(leaGcmRow.mbps[1024]!),
    aes128_gcm_openssl_1k_mbps: round(aesGcmRow.mbps[1024]!),
    aria128_gcm_openssl_1k_mbps: round(ariaGcmRow.mbps[1024]!),
    lea128_ccm_mbps: round(leaCcmRow.mbps[16384]!),
    lea128_ecb_mbps: round(leaEcb.mbps[16384]!),
  }),
);

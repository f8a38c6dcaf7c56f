#!/usr/bin/env node
// Builds the DTLS server's native fast path (native/dtls-fastpath/fastpath.c) into
// build/native/fastpath.node with the system C compiler — no node-gyp. The addon links against
// nothing: node_api, libuv and OpenSSL symbols resolve to the ones the node binary exports, so it
// uses node's own OpenSSL (headers: <node prefix>/include/node, which carries openssl/ and uv.h).
//   node scripts/build-native.mjs            build (exit 1 on failure)
//   node scripts/build-native.mjs --optional build if possible; a failure only warns (npm install)
// Without the addon the DTLS server runs on node:dgram exactly as before (src/dtls/README.md).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const optional = process.argv.includes('--optional');
const source = join(root, 'native/dtls-fastpath/fastpath.c');
const out = join(root, 'build/native/fastpath.node');

function fail(msg) {
  process.stderr.write(`build-native: ${msg}\n`);
  process.exit(optional ? 0 : 1);
}

if (process.platform !== 'linux') fail(`the fast path is Linux-only (recvmmsg/sendmmsg); ${process.platform}: node:dgram is used`);
const candidates = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
const include = candidates.find((d) => existsSync(join(d, 'node_api.h')) && existsSync(join(d, 'uv.h')) && existsSync(join(d, 'openssl', 'evp.h')));
if (include === undefined) fail(`no node headers with node_api.h, uv.h and openssl/ in ${candidates.join(', ')}`);
const cc = process.env.CC ?? 'cc';
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
const args = ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-Wno-unused-parameter', '-fPIC', '-shared', '-fvisibility=hidden', '-DNAPI_VERSION=8', '-DNODE_GYP_MODULE_NAME=fastpath', `-I${include}`, '-o', tmp, source];
const r = spawnSync(cc, args, { stdio: 'inherit' });
if (r.error !== undefined) fail(`${cc}: ${r.error.message}`);
if (r.status !== 0) fail(`${cc} exited with ${r.status}`);
renameSync(tmp, out);
process.stdout.write(`build-native: ${out} (${statSync(out).size} bytes)\n`);

// The ceiling of any Node.js CoAP server on this machine, for bench/coaps.ts: a bare node:dgram
// responder that answers each CoAP CON GET with a piggybacked 2.05 of the same size as our
// server's (136-byte text/plain body), parsing nothing but the message ID and token. No DTLS,
// no routing, no deduplication — only Node's receive and send path. Run as an IPC child:
//   → {type:'ready', port}     ← {type:'stop'} or disconnect → exit
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';

const BODY = Buffer.from('x'.repeat(136));
const socket = createSocket({
  type: 'udp4',
  // IP literals resolved in place (dns.lookup would answer each on the next tick).
  lookup: (host: string, _family: unknown, cb: (err: Error | null, address: string, family: number) => void) => cb(null, host, isIP(host)),
});
socket.on('message', (m, r) => {
  if (m.length < 4 || m[0]! >> 6 !== 1) return;
  const tkl = m[0]! & 15;
  const out = Buffer.allocUnsafe(4 + tkl + 2 + BODY.length);
  out[0] = 0x60 | tkl; // ver 1, ACK
  out[1] = 0x45; // 2.05 Content
  out[2] = m[2]!;
  out[3] = m[3]!;
  m.copy(out, 4, 4, 4 + tkl);
  out[4 + tkl] = 0xc0; // Content-Format (12) = 0, text/plain
  out[5 + tkl] = 0xff;
  BODY.copy(out, 6 + tkl);
  socket.send(out, r.port, r.address);
});
socket.bind(0, '127.0.0.1', () => process.send!({ type: 'ready', port: socket.address().port }));
process.on('message', (m: { type?: string }) => {
  if (m.type === 'stop') process.exit(0);
});
process.on('disconnect', () => process.exit(0));

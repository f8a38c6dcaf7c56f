/**
 * Block1/Block2 option values (RFC 7959 §2.2): NUM (up to 20 bits), M (more flag), SZX (block
 * size 2^(SZX+4), 16..1024). Pure.
 */
import { CoapBadBlockOptionError } from './errors.js';
import { decodeUint, encodeUint } from './options.js';

export interface BlockValue {
  num: number;
  more: boolean;
  szx: number;
}

export const MAX_BLOCK_NUM = 0xfffff;

export function blockSize(szx: number): number {
  return 1 << (szx + 4);
}

/** The largest SZX whose block size is at most `bytes` (bytes >= 16). */
export function szxForSize(bytes: number): number {
  let szx = 0;
  while (szx < 6 && blockSize(szx + 1) <= bytes) szx++;
  return szx;
}

/**
 * Decodes a Block option value. RFC 7959 §2.2: "The value 7 for SZX (which would indicate a
 * block size of 2048) is reserved, i.e., MUST NOT be sent and MUST lead to a 4.00 Bad Request
 * response code upon reception in a request." Callers map the thrown error to 4.00.
 */
export function decodeBlock(value: Uint8Array): BlockValue {
  if (value.length > 3) throw new CoapBadBlockOptionError(`Block option value of ${value.length} bytes (at most 3)`);
  const v = decodeUint(value);
  const szx = v & 7;
  if (szx === 7) throw new CoapBadBlockOptionError('reserved SZX 7');
  return { num: v >> 4, more: (v & 8) !== 0, szx };
}

export function encodeBlock(block: BlockValue): Uint8Array {
  if (!Number.isInteger(block.num) || block.num < 0 || block.num > MAX_BLOCK_NUM) {
    throw new CoapBadBlockOptionError(`block NUM ${block.num} outside 0..${MAX_BLOCK_NUM}`);
  }
  if (!Number.isInteger(block.szx) || block.szx < 0 || block.szx > 6) throw new CoapBadBlockOptionError(`SZX ${block.szx} outside 0..6`);
  return encodeUint(block.num * 16 + (block.more ? 8 : 0) + block.szx);
}

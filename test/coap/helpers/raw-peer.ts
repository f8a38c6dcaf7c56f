/** A hand-driven CoAP peer on a MemoryNetwork: sends exact bytes and waits for what comes back. */
import { decodeMessage, encodeMessage, type CoapMessage } from '../../../src/coap/codec.js';
import type { PeerKey } from '../../../src/coap/transport.js';
import type { MemoryNetwork } from './memory-network.js';

export class RawPeer {
  readonly key: PeerKey;
  readonly received: CoapMessage[] = [];
  readonly #net: MemoryNetwork;
  #waiters: Array<() => void> = [];

  constructor(net: MemoryNetwork, key: PeerKey) {
    this.#net = net;
    this.key = key;
    net.register(key, (_from, data) => {
      this.received.push(decodeMessage(data));
      const w = this.#waiters;
      this.#waiters = [];
      for (const f of w) f();
    });
  }

  sendBytes(to: PeerKey, data: Uint8Array): void {
    this.#net.deliver(this.key, to, data);
  }

  send(to: PeerKey, msg: CoapMessage): void {
    this.sendBytes(to, encodeMessage(msg));
  }

  /** Waits until `count` messages have been received in total. */
  async waitFor(count: number): Promise<CoapMessage[]> {
    while (this.received.length < count) await new Promise<void>((r) => this.#waiters.push(r));
    return this.received;
  }

  close(): void {
    this.#net.unregister(this.key);
  }
}

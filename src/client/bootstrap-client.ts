/**
 * Client-initiated bootstrap (OMA LwM2M Core 1.1 §6.1.3, §6.1.5-§6.1.7): the device sends
 * Bootstrap-Request (POST /bs?ep=...) to the bootstrap server named by its bootstrap Security
 * instance, then serves Bootstrap-Discover / -Read / -Write / -Delete until Bootstrap-Finish
 * (POST /bs), which it accepts only when the configuration it received lets it reach a server.
 */
import { CoapCode } from '../coap/codec.js';
import { ContentFormat } from '../coap/content-format.js';
import type { CoapResponseInit } from '../coap/router.js';
import type { Lwm2mCodecOptions } from '../lwm2m/codec/common.js';
import type { Lwm2mValue } from '../lwm2m/model/node.js';
import { ClientResources } from './client-resources.js';
import { connectToServer, type ConnectionOptions } from './connection.js';
import { Lwm2mBootstrapFailedError } from './errors.js';
import type { ObjectTree } from './object-tree.js';

export interface BootstrapOptions extends ConnectionOptions {
  endpointName: string;
  lwm2mVersion: string;
  codec: Lwm2mCodecOptions;
  defaultFormat: number;
  /** Longest wait for Bootstrap-Finish after the request was accepted (default 60 s). */
  finishTimeoutMs?: number;
}

/** The Security instance of the bootstrap server, if the tree has one. */
export function bootstrapSecurityInstance(tree: ObjectTree): number | undefined {
  return tree.instanceIds(0).find((i) => (tree.get(0, i, 1) as Lwm2mValue | undefined)?.value === true);
}

/** A Security instance of a management server together with the Server instance of the same Short Server ID. */
export function serverAccount(tree: ObjectTree): { security: number; server: number; shortServerId: number } | undefined {
  for (const s of tree.instanceIds(0)) {
    if ((tree.get(0, s, 1) as Lwm2mValue | undefined)?.value === true) continue;
    const ssid = (tree.get(0, s, 10) as Lwm2mValue | undefined)?.value;
    const server = tree.instanceIds(1).find((i) => (tree.get(1, i, 0) as Lwm2mValue | undefined)?.value === ssid);
    if (typeof ssid === 'number' && server !== undefined) return { security: s, server, shortServerId: ssid };
  }
  return undefined;
}

/** Runs one bootstrap session; resolves once Bootstrap-Finish was accepted. */
export async function bootstrap(tree: ObjectTree, options: BootstrapOptions): Promise<void> {
  const bs = bootstrapSecurityInstance(tree);
  if (bs === undefined) throw new Lwm2mBootstrapFailedError('no bootstrap server account (Security instance with Bootstrap-Server = true)');
  const conn = await connectToServer(tree, bs, options);
  let resources: ClientResources | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const finished = new Promise<void>((resolve, reject) => {
      const finish = (): CoapResponseInit => {
        // Core §6.1.7.6: "If the LwM2M Client ... cannot ... (e.g. no LwM2M Server Account),
        // it MUST respond with 4.06 Not Acceptable".
        if (serverAccount(tree) === undefined) return { code: CoapCode.NotAcceptable, payload: 'no usable LwM2M server account', contentFormat: ContentFormat.TextPlain };
        setImmediate(resolve);
        return { code: CoapCode.Changed };
      };
      resources = new ClientResources(conn.coap, tree, { who: 'bootstrap', codec: options.codec, defaultFormat: options.defaultFormat, lwm2mVersion: options.lwm2mVersion, onBootstrapFinish: finish });
      timer = setTimeout(() => reject(new Lwm2mBootstrapFailedError('no Bootstrap-Finish in time')), options.finishTimeoutMs ?? 60_000);
      // The session's socket keeps the process alive while it matters; the timer alone must not.
      timer.unref?.();
    });
    // Observed below; this keeps an early failure of the request from leaving it unhandled.
    finished.catch(() => undefined);
    const res = await conn.coap.request(conn.peer, { method: 'POST', path: ['bs'], query: [`ep=${options.endpointName}`] });
    // Core §6.1.5.1: Bootstrap-Request is answered 2.04 Changed.
    if (res.code !== CoapCode.Changed) throw new Lwm2mBootstrapFailedError(`Bootstrap-Request answered ${res.codeText}`);
    await finished;
  } finally {
    clearTimeout(timer);
    resources?.close();
    await conn.close();
  }
}

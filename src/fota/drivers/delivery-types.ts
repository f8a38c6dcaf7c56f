/**
 * What the delivery drivers share: their options, method names (the campaign's and their own),
 * the HTTPS key-grant interface, the report sink, the error type and the diagnostics channel.
 */
import { channel } from 'node:diagnostics_channel';
import type { CoapEndpoint } from '../../coap/endpoint.js';
import { RootlineError } from '../../errors.js';
import type { Lwm2mNode } from '../../lwm2m/model/node.js';
import type { IdentityResolver } from '../../lwm2m/server/identity.js';
import type { Lwm2mServer } from '../../lwm2m/server/server.js';
import type { Store } from '../../store/types.js';
import type { DeviceReport } from '../campaign/driver.js';
import type { DeliveryMethod } from '../campaign/spec.js';
import type { DeltaCache } from '../firmware/delta-cache.js';
import type { FirmwareService } from '../firmware/firmware-service.js';

/** Reports the engine could not take (stale attempt, store error) and failed device requests. */
export const driverErrorChannel = channel('rootline:fota:driver-error');

export class DeliveryError extends RootlineError {}

/** The driver's own names for its methods ('pull' is LwM2M pull over CoAPs). */
export type DriverDelivery = 'pull' | 'push' | 'https-pull';

export const DRIVER_DELIVERIES: readonly DriverDelivery[] = ['pull', 'push', 'https-pull'];

/** A campaign's `delivery` as the driver names it. */
export function driverDeliveryOf(method: DeliveryMethod): DriverDelivery {
  return method === 'lwm2m-pull' ? 'pull' : method === 'lwm2m-push' ? 'push' : 'https-pull';
}

/** The public (campaign, audit) name of a driver method. */
export function deliveryMethodOf(method: DriverDelivery): DeliveryMethod {
  return method === 'pull' ? 'lwm2m-pull' : method === 'push' ? 'lwm2m-push' : 'https-pull';
}

/**
 * What HTTPS pull needs from the TLS-PSK package listener: node:tls asks for a PSK synchronously,
 * so the device's key is made available (unsealed, in memory) for the attempt's lifetime only.
 * `grant` throws when the device has no PSK (certificate devices have no HTTPS path).
 */
export interface HttpsPskGrants {
  grant(endpoint: string, until: number): Promise<void>;
  revoke(endpoint: string): void;
}

/** Where reports go: the CampaignEngine (onDeviceReport, onDeviceVersion) has this shape. */
export interface DeviceReportSink {
  onDeviceReport(report: DeviceReport): Promise<unknown>;
  onDeviceVersion(endpoint: string, version: string): Promise<unknown>;
}

export interface Lwm2mDeliveryDriverOptions {
  lwm2m: Lwm2mServer;
  /**
   * 'pull' (default): Package URI to /fw/<token> on `coap`, Block2; 'push': Write /5/0/0 with
   * Block1; 'https-pull': Package URI to `httpsBaseUri`/fw/<token>, served by an
   * HttpsPackageServer (https-package-server.ts) over TLS-PSK.
   */
  delivery?: DriverDelivery;
  /**
   * The methods this driver offers (default: only `delivery`); an attempt whose campaign asks for
   * another is refused with ERR_FOTA_DELIVERY_UNSUPPORTED. The CoAPs package resource is added
   * only when 'pull' is offered.
   */
  methods?: readonly DriverDelivery[];
  /** For 'https-pull': e.g. 'https://192.0.2.10:5685'. */
  httpsBaseUri?: string;
  /** For 'https-pull' behind a TLS-PSK listener with a synchronous key cache (serve). */
  httpsAccess?: HttpsPskGrants;
  /** Push only: largest package written to /5/0/0 (default 1 MiB, the SDK's CoAP body limit). */
  maxPushBytes?: number;
  /** The CoAPs endpoint devices reach the package on (usually the LwM2M one). */
  coap: CoapEndpoint;
  /** The same resolver the LwM2M server uses: peer → credential. */
  identityOf: IdentityResolver;
  store: Store;
  firmware: FirmwareService;
  deltas: DeltaCache;
  reports: DeviceReportSink;
  /** What devices put in front of /fw/<token>, e.g. 'coaps://192.0.2.10:5684'. */
  packageBaseUri: string;
  /** First path segment of the package resource (default 'fw'). */
  resourcePath?: string;
  /** A token stops working this long after the attempt started (default 24 h). */
  tokenLifetimeMs?: number;
  /** Write the version read from /3/0/3 into the device registry (default true). */
  updateRegistry?: boolean;
  /**
   * Read /3/0/3 of every device that registers without an attempt of this driver in memory and
   * pass it to `reports.onDeviceVersion` (default true): after a server restart the engine's
   * in-flight attempts still get their proof of success when the device comes back.
   */
  readVersionOnRegistration?: boolean;
  /**
   * Those registration reads of /3/0/3 (devices without an attempt in flight) are background
   * inventory work: they wait while devices keep registering, so that a registration storm (a
   * fleet coming back after an outage or a restart) is not slowed by a request to each device.
   * A read starts once no device has registered for `quietMs` (default 200), or at the latest
   * `maxDelayMs` (default 30,000) after its registration; at most `concurrency` (default 32) run
   * at once. A device in the queue is read once however often it registers meanwhile.
   */
  inventoryReads?: { quietMs?: number; maxDelayMs?: number; concurrency?: number };
}


export function integerOf(node: Lwm2mNode): number | undefined {
  if (node.kind !== 'resource' || node.multiple) return undefined;
  const val = node.value;
  return val.type === 'integer' || val.type === 'unsigned' ? Number(val.value) : undefined;
}

export function stringOf(node: Lwm2mNode): string | undefined {
  if (node.kind !== 'resource' || node.multiple) return undefined;
  return node.value.type === 'string' ? node.value.value : undefined;
}

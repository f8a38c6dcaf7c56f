/**
 * The standard objects a device carries (OMA LwM2M Core 1.1 Appendix E): Security (0), Server
 * (1), Device (3), Connectivity Monitoring (4) and Firmware Update (5, states and result codes
 * only — downloading and applying an image is the firmware room's). Each builder puts one
 * instance into an ObjectTree with the behaviour its executable resources need.
 */
import { lwm2mValue as v } from '../lwm2m/model/node.js';
import type { Lwm2mValue } from '../lwm2m/model/node.js';
import type { ObjectTree, ResourceHandler, ResourceValue } from './object-tree.js';
import { CoapCode } from '../coap/codec.js';
import { Lwm2mOperationError } from './errors.js';
import { InvalidArgumentError } from '../errors.js';

/** Security Mode (object 0, resource 2): Core 1.1 Appendix E.1. */
export const SecurityMode = { PreSharedKey: 0, RawPublicKey: 1, Certificate: 2, NoSec: 3, CertificateWithEst: 4 } as const;

export interface SecurityInstanceInit {
  serverUri: string;
  bootstrapServer: boolean;
  securityMode: number;
  /** PSK identity (UTF-8 bytes), or our certificate / SubjectPublicKeyInfo. */
  publicKeyOrIdentity?: Uint8Array;
  serverPublicKey?: Uint8Array;
  /** PSK key, or our private key (PKCS#8 DER). */
  secretKey?: Uint8Array;
  shortServerId?: number;
  clientHoldOffTime?: number;
}

export function addSecurityInstance(tree: ObjectTree, instanceId: number, init: SecurityInstanceInit): void {
  const r: Record<number, ResourceValue> = {
    0: v.string(init.serverUri),
    1: v.boolean(init.bootstrapServer),
    2: v.integer(init.securityMode),
    3: v.opaque(init.publicKeyOrIdentity ?? new Uint8Array(0)),
    4: v.opaque(init.serverPublicKey ?? new Uint8Array(0)),
    5: v.opaque(init.secretKey ?? new Uint8Array(0)),
  };
  if (init.shortServerId !== undefined) r[10] = v.integer(init.shortServerId);
  if (init.clientHoldOffTime !== undefined) r[11] = v.integer(init.clientHoldOffTime);
  tree.setInstance(0, instanceId, r);
}

export interface ServerInstanceInit {
  shortServerId: number;
  lifetime: number;
  binding: string;
  defaultMinPeriod?: number;
  defaultMaxPeriod?: number;
  notificationStoring?: boolean;
}

export interface ServerActions {
  /** Registration Update Trigger (1/x/8). */
  updateTrigger?: () => void | Promise<void>;
  /** Bootstrap-Request Trigger (1/x/9). */
  bootstrapTrigger?: () => void | Promise<void>;
  /** Disable (1/x/4). */
  disable?: () => void | Promise<void>;
}

export function addServerInstance(tree: ObjectTree, instanceId: number, init: ServerInstanceInit, actions: ServerActions = {}): void {
  const r: Record<number, ResourceValue> = {
    0: v.integer(init.shortServerId),
    1: v.unsigned(init.lifetime),
    6: v.boolean(init.notificationStoring ?? false),
    7: v.string(init.binding),
  };
  if (init.defaultMinPeriod !== undefined) r[2] = v.integer(init.defaultMinPeriod);
  if (init.defaultMaxPeriod !== undefined) r[3] = v.integer(init.defaultMaxPeriod);
  const h: Record<number, ResourceHandler> = {};
  if (actions.updateTrigger) h[8] = { execute: () => actions.updateTrigger!() };
  if (actions.bootstrapTrigger) h[9] = { execute: () => actions.bootstrapTrigger!() };
  if (actions.disable) h[4] = { execute: () => actions.disable!() };
  tree.setInstance(1, instanceId, r, h);
}

export interface DeviceInit {
  manufacturer: string;
  modelNumber: string;
  serialNumber: string;
  firmwareVersion: string;
  deviceType?: string;
  hardwareVersion?: string;
  softwareVersion?: string;
  /** Supported binding and modes (3/0/16), e.g. "U" or "UQ". */
  supportedBindings?: string;
  batteryLevel?: number;
  memoryFree?: number;
  memoryTotal?: number;
  utcOffset?: string;
  timezone?: string;
  /** The clock 3/0/13 reads (seconds); default the system clock. Writes shift it. */
  clock?: () => number;
}

export interface DeviceActions {
  reboot?: () => void | Promise<void>;
  factoryReset?: () => void | Promise<void>;
}

const DEVICE_STRING_FIELDS = ['manufacturer', 'modelNumber', 'serialNumber', 'firmwareVersion', 'deviceType', 'hardwareVersion', 'softwareVersion', 'utcOffset', 'timezone'] as const;
const DEVICE_FIELDS: ReadonlySet<string> = new Set([...DEVICE_STRING_FIELDS, 'supportedBindings', 'batteryLevel', 'memoryFree', 'memoryTotal', 'clock']);

/**
 * Checks the Device fields a caller gave; throws ERR_INVALID_ARGUMENT naming the field
 * (`device.batteryLevel: ...`). Missing fields are not an error here (see `deviceWithDefaults`).
 */
export function assertDeviceInit(init: Partial<DeviceInit>, name = 'device'): void {
  if (typeof init !== 'object' || init === null || Array.isArray(init)) throw new InvalidArgumentError(name, 'must be an object');
  for (const [k, x] of Object.entries(init)) {
    const field = `${name}.${k}`;
    if (!DEVICE_FIELDS.has(k)) throw new InvalidArgumentError(field, 'is not a Device (object 3) field');
    if (x === undefined) continue;
    if ((DEVICE_STRING_FIELDS as readonly string[]).includes(k)) {
      if (typeof x !== 'string') throw new InvalidArgumentError(field, `must be a string, got ${typeof x}`);
      if (x.length > 255) throw new InvalidArgumentError(field, 'must be at most 255 characters');
    } else if (k === 'supportedBindings') {
      if (typeof x !== 'string' || !/^[UTSNQ]{1,5}$/.test(x)) throw new InvalidArgumentError(field, 'must be binding letters like "U" or "UQ"');
    } else if (k === 'batteryLevel') {
      // Appendix E.4, 3/0/9: Battery Level, 0-100 %.
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 100) throw new InvalidArgumentError(field, 'must be an integer percentage 0..100');
    } else if (k === 'memoryFree' || k === 'memoryTotal') {
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new InvalidArgumentError(field, 'must be a non-negative integer (KB)');
    } else if (typeof x !== 'function') throw new InvalidArgumentError(field, 'must be a function returning seconds');
  }
}

/**
 * The Device fields `createLwm2mClient` uses when the caller leaves them out: manufacturer
 * "rootline", model number "sdk", serial number = the endpoint name, firmware version "0.0.0",
 * supported bindings "UQ" (the SDK does UDP and queue mode). Given fields are checked first.
 */
export function deviceWithDefaults(device: Partial<DeviceInit> | undefined, endpointName: string): DeviceInit {
  const given = device ?? {};
  assertDeviceInit(given);
  const out: DeviceInit = { manufacturer: 'rootline', modelNumber: 'sdk', serialNumber: endpointName, firmwareVersion: '0.0.0', supportedBindings: 'UQ' };
  for (const [k, x] of Object.entries(given)) if (x !== undefined) (out as unknown as Record<string, unknown>)[k] = x;
  return out;
}

/** Device (object 3, instance 0). Error Code 3/0/11 starts as [0] "no error" (Appendix E.4). */
export function addDeviceInstance(tree: ObjectTree, init: DeviceInit, actions: DeviceActions = {}): void {
  assertDeviceInit(init);
  for (const k of ['manufacturer', 'modelNumber', 'serialNumber', 'firmwareVersion'] as const) {
    if (init[k] === undefined) throw new InvalidArgumentError(`device.${k}`, 'is required');
  }
  const r: Record<number, ResourceValue> = {
    0: v.string(init.manufacturer),
    1: v.string(init.modelNumber),
    2: v.string(init.serialNumber),
    3: v.string(init.firmwareVersion),
    6: new Map([[0, v.integer(1)]]),
    11: new Map([[0, v.integer(0)]]),
    13: v.time(Math.floor((init.clock ?? (() => Date.now() / 1000))())),
    14: v.string(init.utcOffset ?? '+00:00'),
    15: v.string(init.timezone ?? 'Etc/UTC'),
    16: v.string(init.supportedBindings ?? 'U'),
  };
  if (init.deviceType !== undefined) r[17] = v.string(init.deviceType);
  if (init.hardwareVersion !== undefined) r[18] = v.string(init.hardwareVersion);
  if (init.softwareVersion !== undefined) r[19] = v.string(init.softwareVersion);
  if (init.batteryLevel !== undefined) r[9] = v.integer(init.batteryLevel);
  if (init.memoryFree !== undefined) r[10] = v.integer(init.memoryFree);
  if (init.memoryTotal !== undefined) r[21] = v.integer(init.memoryTotal);
  let offset = 0;
  const clock = init.clock ?? (() => Date.now() / 1000);
  const h: Record<number, ResourceHandler> = {
    4: { execute: async () => actions.reboot?.() },
    5: { execute: async () => actions.factoryReset?.() },
    // Reset Error Code (3/0/12): "Delete all error code Resource Instances and create only one
    // Resource Instance with value 0" (Appendix E.4).
    12: { execute: () => tree.set(3, 0, 11, new Map([[0, v.integer(0)]])) },
    13: {
      read: () => v.time(Math.floor(clock() + offset)),
      write: (value) => {
        offset = Number((value as Lwm2mValue & { type: 'time' }).value) - clock();
      },
    },
  };
  tree.setInstance(3, 0, r, h);
}

/** Connectivity Monitoring (object 4, instance 0) with the mandatory resources. */
export function addConnectivityInstance(tree: ObjectTree, init: { networkBearer?: number; signalStrength?: number; linkQuality?: number; ipAddresses?: string[] } = {}): void {
  tree.setInstance(4, 0, {
    // Network Bearer (Appendix E.5): 41 = Ethernet.
    0: v.integer(init.networkBearer ?? 41),
    1: new Map([[0, v.integer(init.networkBearer ?? 41)]]),
    2: v.integer(init.signalStrength ?? -60),
    3: v.integer(init.linkQuality ?? 100),
    4: new Map((init.ipAddresses ?? ['127.0.0.1']).map((a, i) => [i, v.string(a)] as const)),
  });
}

/** Firmware Update State (5/0/3), Core 1.1 Appendix E.6. */
export const FirmwareState = { Idle: 0, Downloading: 1, Downloaded: 2, Updating: 3 } as const;
/** Firmware Update Result (5/0/5). */
export const FirmwareResult = {
  Initial: 0,
  Success: 1,
  NotEnoughFlash: 2,
  OutOfMemory: 3,
  ConnectionLost: 4,
  IntegrityCheckFailure: 5,
  UnsupportedPackageType: 6,
  InvalidUri: 7,
  UpdateFailed: 8,
  UnsupportedProtocol: 9,
  /** Object 5 v1.1: "10: Firmware update cancelled". */
  Cancelled: 10,
} as const;

/** What the Firmware Update object hands to the firmware updater (firmware-update.ts). */
export interface FirmwareUpdateActions {
  /** Execute /5/0/2, accepted only in state Downloaded. */
  update?: () => void | Promise<void>;
  /** Write of a non-empty /5/0/1 Package URI. */
  packageUri?: (uri: string) => void;
  /** Write of /5/0/0 Package (Block1 push; the CoAP layer reassembles the body). */
  package?: (bytes: Uint8Array) => void;
  /** An empty Package URI or empty Package was written: stop whatever is under way. */
  cancel?: () => void;
}

/**
 * The Firmware Update object's state machine (Appendix E.6, Figure E.6.1-1), without the
 * download itself: the firmware updater (firmware-update.ts) binds its actions with `bind()` and
 * moves the state with setState / setResult.
 */
export class FirmwareUpdateObject {
  readonly #tree: ObjectTree;
  #actions: FirmwareUpdateActions;

  constructor(tree: ObjectTree, actions: FirmwareUpdateActions = {}) {
    this.#tree = tree;
    this.#actions = actions;
    tree.setInstance(5, 0, {
      1: v.string(''),
      3: v.integer(FirmwareState.Idle),
      5: v.integer(FirmwareResult.Initial),
      8: new Map([[0, v.integer(0)]]),
      9: v.integer(0),
    }, {
      0: {
        write: (value) => {
          const bytes = (value as Lwm2mValue & { type: 'opaque' }).value;
          // Appendix E.6 resource 3: "Writing an empty string to Package URI Resource or setting
          // the Package Resource to NULL ('\0'), resets the Firmware Update State Machine".
          if (bytes.length === 0 || (bytes.length === 1 && bytes[0] === 0)) this.#cancel();
          else if (this.#actions.package === undefined) throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, 'this device does not accept pushed packages');
          else this.#actions.package(bytes);
        },
      },
      1: {
        write: (value) => {
          const uri = (value as Lwm2mValue & { type: 'string' }).value;
          // Writing an empty URI cancels and resets the state machine to Idle.
          if (uri === '') this.#cancel();
          else this.#actions.packageUri?.(uri);
        },
      },
      2: {
        execute: async () => {
          // Appendix E.6: Update is only meaningful once a package is Downloaded.
          if (this.state !== FirmwareState.Downloaded) throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, 'Update is only allowed in state Downloaded');
          this.setState(FirmwareState.Updating);
          await this.#actions.update?.();
        },
      },
      10: {
        execute: () => {
          // Resource 10 Cancel (Object 5 v1.1): "If the device is in the process of installing
          // the firmware or has already completed installation it MUST respond with Method Not
          // Allowed error code. Upon successful Cancel operation, Update Result Resource is set
          // to 10 and State is set to 0 by the device."
          if (this.state === FirmwareState.Updating) throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, 'the update is being installed');
          this.#actions.cancel?.();
          this.setState(FirmwareState.Idle);
          this.setResult(FirmwareResult.Cancelled);
        },
      },
    });
  }

  /** Replaces the actions (the object is created with the tree, the updater attaches later). */
  bind(actions: FirmwareUpdateActions): void {
    this.#actions = actions;
  }

  #cancel(): void {
    // The reset of Appendix E.6 is drawn from Downloading and Downloaded; an image being
    // installed is not abandoned half-written (as for Cancel, resource 10).
    if (this.state === FirmwareState.Updating) throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, 'the update is being installed');
    this.#actions.cancel?.();
    this.reset();
  }

  get state(): number {
    return Number((this.#tree.get(5, 0, 3) as Lwm2mValue & { type: 'integer' }).value);
  }

  get result(): number {
    return Number((this.#tree.get(5, 0, 5) as Lwm2mValue & { type: 'integer' }).value);
  }

  setState(state: number): void {
    this.#tree.set(5, 0, 3, v.integer(state));
  }

  setResult(result: number): void {
    this.#tree.set(5, 0, 5, v.integer(result));
  }

  reset(): void {
    this.setState(FirmwareState.Idle);
    this.setResult(FirmwareResult.Initial);
  }
}

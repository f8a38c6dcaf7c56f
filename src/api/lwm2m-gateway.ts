/**
 * What the HTTP API needs from the LwM2M server, as an interface declared here (like the firmware
 * service and the campaign engine): server/ implements it over src/lwm2m and hands it to
 * buildApi(). Values cross this boundary as JSON already (nodeToJson's shape), so this room needs
 * no LwM2M types, and errors are mapped by their stable code, not by class.
 */
import { isRootlineError } from '../errors.js';
import { ApiError, type ApiErrorCode } from './errors.js';

/** Content formats an operator can ask a Read for, by name. */
export const READ_FORMATS = ['tlv', 'senml-json', 'senml-cbor', 'lwm2m-cbor', 'text'] as const;
export type ReadFormatName = (typeof READ_FORMATS)[number];

export interface RegistrationSummary {
  id: string;
  at: string;
  updatedAt: string;
  expiresAt: string;
  lifetime: number;
  binding: string;
  lwm2mVersion: string;
  queueMode: boolean;
  security: string;
}

export interface ObjectSummary {
  id: number;
  version?: string;
  instances: number[];
}

/** Registration facts merged into a device view. */
export interface DeviceRegistrationView {
  registered: boolean;
  lastRegistration: RegistrationSummary | null;
  objects: ObjectSummary[];
}

export interface LinkView {
  path: string;
  attributes: Record<string, unknown>;
}

export interface ObservationView {
  id: string;
  endpoint: string;
  path: string;
  initial: { format: number; node: unknown };
}

/** A bootstrap configuration as shown: secrets replaced by whether they are set. */
export interface BootstrapConfigView {
  endpoint: string;
  updatedAt: string;
  delete: string[];
  servers: Record<string, unknown>[];
}

/** How long a request may wait for a sleeping (queue-mode) device before it expires. */
export interface DeviceWait {
  waitMs: number;
}

export interface Lwm2mGateway {
  /** Registration facts of each endpoint asked for (one entry per endpoint). */
  describe(endpoints: readonly string[]): Promise<Map<string, DeviceRegistrationView>>;
  read(endpoint: string, path: string, options: DeviceWait & { format?: ReadFormatName }): Promise<{ path: string; format: number; node: unknown }>;
  write(endpoint: string, path: string, body: unknown, options: DeviceWait & { mode: 'replace' | 'update' }): Promise<void>;
  execute(endpoint: string, path: string, options: DeviceWait & { args?: string }): Promise<void>;
  discover(endpoint: string, path: string, options: DeviceWait): Promise<LinkView[]>;
  observe(endpoint: string, path: string, options: DeviceWait): Promise<ObservationView>;
  /** Cancels the observations of this path; false when there was none. The Cancel waits for a sleeping device at most `waitMs`. */
  cancelObservation(endpoint: string, path: string, options: DeviceWait): Promise<boolean>;
  /** Validates, seals the secrets and stores; answers the view without secrets. */
  setBootstrapConfig(endpoint: string, config: unknown): Promise<BootstrapConfigView>;
  getBootstrapConfig(endpoint: string): Promise<BootstrapConfigView | undefined>;
}

/** LwM2M failures the API passes through under their own code (see errors.ts for statuses). */
const PASSED_THROUGH: ReadonlySet<string> = new Set<ApiErrorCode>([
  'ERR_LWM2M_NOT_REGISTERED',
  'ERR_LWM2M_DEVICE_ERROR',
  'ERR_LWM2M_BAD_DEVICE_RESPONSE',
  'ERR_LWM2M_REQUEST_EXPIRED',
  'ERR_LWM2M_DEVICE_TIMEOUT',
  'ERR_LWM2M_DEVICE_UNREACHABLE',
  'ERR_LWM2M_QUEUE_FULL',
  'ERR_LWM2M_TOO_MANY_OBSERVATIONS',
  'ERR_LWM2M_BAD_VALUE',
  'ERR_LWM2M_BAD_PATH',
  'ERR_LWM2M_BAD_BOOTSTRAP_CONFIG',
  'ERR_LWM2M_NO_OBSERVATION',
]);

/** Renames the lower rooms' codes that mean the same to the client, then passes the catalogue ones through. */
const RENAMED: Readonly<Record<string, ApiErrorCode>> = {
  // A device that never answers (CoAP exchange timed out) or reset the request: a gateway timeout.
  ERR_COAP_TIMEOUT: 'ERR_LWM2M_DEVICE_TIMEOUT',
  ERR_COAP_RESET: 'ERR_LWM2M_DEVICE_ERROR',
  ERR_COAP_BAD_RESPONSE: 'ERR_LWM2M_BAD_DEVICE_RESPONSE',
  ERR_COAP_SEND_FAILED: 'ERR_LWM2M_DEVICE_UNREACHABLE',
  // A value the object model refuses, or a payload that cannot be built from the body.
  ERR_LWM2M_BAD_PAYLOAD: 'ERR_LWM2M_BAD_VALUE',
  ERR_LWM2M_UNSUPPORTED_FORMAT: 'ERR_LWM2M_BAD_VALUE',
  ERR_LWM2M_SERVER_CLOSED: 'ERR_API_NOT_READY',
  // A Write whose store write is refused (control characters, depth) is the client's mistake.
  ERR_INVALID_ARGUMENT: 'ERR_API_VALIDATION',
};

/** Runs a gateway call, turning LwM2M errors into ApiErrors; anything else stays a 500. */
export async function viaGateway<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!isRootlineError(err) || err instanceof ApiError) throw err;
    const code = RENAMED[err.code] ?? (PASSED_THROUGH.has(err.code) ? (err.code as ApiErrorCode) : undefined);
    if (code === undefined) throw err;
    throw new ApiError(code, err.message, { cause: err });
  }
}

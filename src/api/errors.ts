/**
 * The catalogue of errors the HTTP API returns: one stable code per failure, its HTTP status and
 * what it means. Every error body has the shape {"error": {"code", "message"}}. The OpenAPI
 * document and src/api/README.md list these codes; test/api/errors.test.ts fails when one is
 * missing from either, so the docs cannot drift from the catalogue.
 */
import { RootlineError } from '../errors.js';

export const API_ERRORS = {
  ERR_API_VALIDATION: { status: 400, description: 'The request (body, query or path) does not match the route schema; the message names the field.' },
  ERR_API_BAD_JSON: { status: 400, description: 'The request body is not well-formed JSON.' },
  ERR_API_BAD_CREDENTIAL: { status: 400, description: 'A credential is well-formed JSON but unusable: bad hex, bad PEM, unsupported key type.' },
  ERR_API_UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The request body is not application/json.' },
  ERR_API_BODY_TOO_LARGE: { status: 413, description: 'The request body exceeds the size limit.' },
  ERR_API_ROUTE_NOT_FOUND: { status: 404, description: 'No route matches this method and path.' },
  ERR_API_DEVICE_NOT_FOUND: { status: 404, description: 'No device is registered under this endpoint name.' },
  ERR_API_DEVICE_EXISTS: { status: 409, description: 'A device with this endpoint name already exists.' },
  ERR_API_CREDENTIAL_IN_USE: { status: 409, description: 'This credential (PSK identity, public key or certificate subject) is bound to another device.' },
  ERR_API_FIRMWARE_NOT_FOUND: { status: 404, description: 'No firmware image has this id.' },
  ERR_API_FIRMWARE_EXISTS: { status: 409, description: 'This vendor and model already have an image with this version.' },
  ERR_API_FIRMWARE_NOT_NEWER: { status: 409, description: 'The version is not above every stored version of the model (anti-rollback: sequence numbers follow versions).' },
  ERR_API_FIRMWARE_IN_USE: { status: 409, description: 'The image is the target of a campaign that is not finished; cancel or finish it first.' },
  ERR_API_CAMPAIGN_NOT_FOUND: { status: 404, description: 'No campaign has this id.' },
  ERR_API_CAMPAIGN_INVALID: { status: 400, description: 'The campaign specification is well-formed JSON but refused; the message names the field.' },
  ERR_API_CAMPAIGN_UNKNOWN_FIRMWARE: { status: 400, description: 'The campaign names a firmware image that does not exist.' },
  ERR_API_CAMPAIGN_EXISTS: { status: 409, description: 'A campaign with this id already exists.' },
  ERR_API_CAMPAIGN_ILLEGAL_TRANSITION: { status: 409, description: 'The campaign cannot make this state change from its current state (e.g. resume a running one).' },
  ERR_API_CAMPAIGN_APPROVAL_REQUIRED: { status: 409, description: 'The campaign requires approval before it starts.' },
  ERR_API_CAMPAIGN_CONFLICT: { status: 409, description: 'The campaign was changed concurrently; retry with fresh data.' },
  ERR_API_CAMPAIGN_NO_DRIVER: { status: 409, description: 'No delivery driver is attached to the server yet, so no campaign can start or resume (it stays as it is).' },
  ERR_API_BOOTSTRAP_CONFIG_NOT_FOUND: { status: 404, description: 'The device has no bootstrap configuration.' },
  ERR_API_ONBOARDING_DISABLED: { status: 404, description: 'This server runs without onboarding (its config file has no "onboarding" section).' },
  ERR_API_PENDING_NOT_FOUND: { status: 404, description: 'No pledge with this serial number is on the onboarding approval list.' },
  ERR_API_PIN_TRANSFER_NOT_FOUND: { status: 404, description: 'No PIN owner transfer has this id.' },
  ERR_API_PIN_TRANSFER_LOCKED: { status: 409, description: 'The PIN owner transfer is locked after too many failed handshakes; start a new one.' },
  ERR_API_PIN_TRANSFER_STATE: { status: 409, description: 'The PIN owner transfer (or its device) is not in a state that allows this step (e.g. the device is not in RESET, the transfer expired or is done).' },
  ERR_API_JUST_WORKS_UNKNOWN_KEY: { status: 404, description: 'No device presented this raw public key over CoAPs since the server started (it must connect again before approval).' },
  ERR_API_OWNERSHIP_ILLEGAL_TRANSITION: { status: 409, description: "The device's ownership state does not allow this (e.g. decommissioning a device in RESET or already DECOMMISSIONED)." },
  ERR_LWM2M_NOT_REGISTERED: { status: 404, description: 'The device is not registered (never, de-registered or its lifetime expired), so it cannot be reached.' },
  ERR_LWM2M_NO_OBSERVATION: { status: 404, description: 'No observation of this path is active on the device.' },
  ERR_LWM2M_BAD_PATH: { status: 400, description: 'Not an LwM2M path the operation accepts (e.g. Execute needs /object/instance/resource).' },
  ERR_LWM2M_BAD_VALUE: { status: 400, description: 'The Write body does not fit the object model (type, range, shape); the message names the resource.' },
  ERR_LWM2M_BAD_BOOTSTRAP_CONFIG: { status: 400, description: 'The bootstrap configuration is refused; the message names the field.' },
  ERR_LWM2M_DEVICE_ERROR: { status: 502, description: 'The device answered with a CoAP error (the message carries its code, e.g. 4.04 or 4.05).' },
  ERR_LWM2M_BAD_DEVICE_RESPONSE: { status: 502, description: "The device's answer could not be decoded." },
  ERR_LWM2M_DEVICE_UNREACHABLE: { status: 502, description: 'The request could not be sent to the device (its session is gone); it reconnects with its next Update.' },
  ERR_LWM2M_DEVICE_TIMEOUT: { status: 504, description: 'The device did not answer in time.' },
  ERR_LWM2M_REQUEST_EXPIRED: { status: 504, description: 'A request held for a sleeping (queue-mode) device expired, or the device de-registered first.' },
  ERR_LWM2M_QUEUE_FULL: { status: 503, description: 'Too many requests are already held for this sleeping (queue-mode) device; retry later.' },
  ERR_LWM2M_TOO_MANY_OBSERVATIONS: { status: 503, description: 'The device already has the maximum number of observations.' },
  ERR_API_TOO_MANY_STREAMS: { status: 503, description: 'The server already serves its maximum of concurrent event streams; retry later.' },
  ERR_API_NOT_READY: { status: 503, description: 'The server is starting or stopping: not every listener is up.' },
  ERR_API_INTERNAL: { status: 500, description: 'An unexpected server failure; details are in the server log, never in the response.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export const API_ERROR_CODES = Object.keys(API_ERRORS) as ApiErrorCode[];

/** An error meant for the client: its code fixes the status, its message is shown as is. */
export class ApiError extends RootlineError {
  declare readonly code: ApiErrorCode;
  readonly status: number;

  constructor(code: ApiErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = API_ERRORS[code].status;
  }
}

export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string };
}

export function errorBody(code: ApiErrorCode, message: string): ApiErrorBody {
  return { error: { code, message } };
}

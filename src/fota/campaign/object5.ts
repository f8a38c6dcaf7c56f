/**
 * LwM2M Object 5 (Firmware Update, OMA LwM2M Core v1.1 Appendix E.6): the values of resource 3
 * (State) and resource 5 (Update Result) that a device reports and the engine records.
 */

/** /5/0/3 State. */
export const FIRMWARE_STATE = { IDLE: 0, DOWNLOADING: 1, DOWNLOADED: 2, UPDATING: 3 } as const;
export type FirmwareState = (typeof FIRMWARE_STATE)[keyof typeof FIRMWARE_STATE];

export const FIRMWARE_STATE_NAMES: Readonly<Record<FirmwareState, string>> = {
  0: 'idle',
  1: 'downloading',
  2: 'downloaded',
  3: 'updating',
};

/** /5/0/5 Update Result. */
export const UPDATE_RESULT = {
  INITIAL: 0,
  SUCCESS: 1,
  NOT_ENOUGH_FLASH: 2,
  OUT_OF_RAM: 3,
  CONNECTION_LOST: 4,
  INTEGRITY_CHECK_FAILURE: 5,
  UNSUPPORTED_PACKAGE_TYPE: 6,
  INVALID_URI: 7,
  UPDATE_FAILED: 8,
  UNSUPPORTED_PROTOCOL: 9,
} as const;
export type UpdateResult = (typeof UPDATE_RESULT)[keyof typeof UPDATE_RESULT];

export const UPDATE_RESULT_NAMES: Readonly<Record<UpdateResult, string>> = {
  0: 'initial',
  1: 'success',
  2: 'not enough flash memory',
  3: 'out of RAM during download',
  4: 'connection lost during download',
  5: 'integrity check failure',
  6: 'unsupported package type',
  7: 'invalid URI',
  8: 'firmware update failed',
  9: 'unsupported protocol',
};

export function isFirmwareState(value: unknown): value is FirmwareState {
  return value === 0 || value === 1 || value === 2 || value === 3;
}

export function isUpdateResult(value: unknown): value is UpdateResult {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 9;
}

/**
 * Codes worth another attempt by default: transient conditions (RAM, a lost connection, a
 * corrupted transfer, a failed install that rolled back). Not enough flash, an unsupported
 * package type, an invalid URI and an unsupported protocol fail the same way every time.
 */
export const DEFAULT_RETRY_ON: readonly UpdateResult[] = [3, 4, 5, 8];

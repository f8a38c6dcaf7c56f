/** Every SUIT and firmware error code is documented in its room's README. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { FIRMWARE_ERROR_CODES } from '../../../src/fota/firmware/index.js';
import { SUIT_ERROR_CODES } from '../../../src/fota/suit/index.js';

const root = join(import.meta.dirname, '..', '..', '..');

it('README.md of fota/suit and fota/firmware name every error code', () => {
  const suit = readFileSync(join(root, 'src', 'fota', 'suit', 'README.md'), 'utf8');
  const firmware = readFileSync(join(root, 'src', 'fota', 'firmware', 'README.md'), 'utf8');
  for (const code of SUIT_ERROR_CODES) assert.ok(suit.includes(`\`${code}\``), code);
  for (const code of FIRMWARE_ERROR_CODES) assert.ok(firmware.includes(`\`${code}\``), code);
});

/**
 * The public surface: every ERR_EST_* code the room can produce is documented in its README with
 * its HTTP status, and the index re-exports every operation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as est from '../../../src/onboarding/est/index.js';

const root = new URL('../../../src/onboarding/est/', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');

describe('EST public surface', () => {
  it('documents every error code used in the sources, and the status of every server-side one', () => {
    const sources = ['errors.ts', 'routes.ts', 'service.ts', 'client.ts'].map((f) => readFileSync(new URL(f, root), 'utf8')).join('\n');
    const codes = new Set(sources.match(/ERR_EST_[A-Z0-9_]+/g));
    assert.ok(codes.size >= 15, `found ${codes.size} codes`);
    for (const c of codes) assert.ok(readme.includes(`\`${c}\``), `${c} is not in README.md`);
    for (const [c, status] of Object.entries(est.EST_HTTP_STATUS)) {
      assert.match(readme, new RegExp(`\\| \`${c}\` \\| ${status} \\|`), `${c} → ${status} not in the README table`);
    }
  });

  it('exports the operations by name', () => {
    for (const name of [
      'encodeBase64Body', 'decodeBase64Body', 'encodeCertsOnly', 'decodeCertsOnly', 'encodeCsrAttrs', 'decodeCsrAttrs', 'decodePkcs10Body',
      'serverChannelBinding', 'clientChannelBinding', 'checkChannelBinding', 'createEstService', 'authorizeByManufacturer', 'estRoutes', 'estClient',
    ]) {
      assert.equal(typeof (est as Record<string, unknown>)[name], 'function', name);
    }
  });
});

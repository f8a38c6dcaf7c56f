import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';

it('every onboarding error code is documented in src/onboarding/README.md', () => {
  const readme = readFileSync(new URL('../../src/onboarding/README.md', import.meta.url), 'utf8');
  const sources = ['errors.ts', 'http/masa-routes.ts'].map((f) => readFileSync(new URL(`../../src/onboarding/${f}`, import.meta.url), 'utf8')).join('\n');
  const codes = new Set(sources.match(/ERR_(?:ONBOARDING|VOUCHER)_[A-Z_]+/g) ?? []);
  assert.ok(codes.size >= 20, `found ${codes.size} codes`);
  for (const code of codes) assert.ok(readme.includes(code), `${code} missing from README`);
});

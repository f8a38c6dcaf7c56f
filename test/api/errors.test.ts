import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { API_ERROR_CODES, API_ERRORS } from '../../src/api/errors.js';
import { API_PREFIX, GLOBAL_ERRORS, ROUTES } from '../../src/api/routes.js';
import { request, startTestServer, type TestServer } from '../server/harness.js';

let t: TestServer;
let doc: {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, { 'x-error-codes'?: string[] }> }>>;
  components: { schemas: { Error: { properties: { error: { properties: { code: { enum: string[] } } } } } } };
};

before(async () => {
  t = await startTestServer();
  const r = await request(`${t.url}${API_PREFIX}/openapi.json`);
  assert.equal(r.status, 200);
  doc = r.body as typeof doc;
});
after(() => t.close());

test('the OpenAPI document is 3.1 and describes every route of the table', () => {
  assert.equal(doc.openapi, '3.1.0');
  for (const route of ROUTES) {
    const path = API_PREFIX + route.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const op = doc.paths[path]?.[route.method.toLowerCase()];
    assert.ok(op, `${route.method} ${path} missing`);
    assert.equal(op.operationId, route.operationId);
    assert.ok(op.responses[String(route.success.status)], `${route.operationId}: success response`);
    for (const code of [...route.errors, ...GLOBAL_ERRORS]) {
      const status = String(API_ERRORS[code].status);
      assert.ok(op.responses[status]?.['x-error-codes']?.includes(code), `${route.operationId}: ${code} under ${status}`);
    }
  }
  assert.equal(Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0), ROUTES.length);
});

test('every catalogue code is in the OpenAPI Error schema and declared by some route', () => {
  assert.deepEqual(doc.components.schemas.Error.properties.error.properties.code.enum, API_ERROR_CODES);
  const declared = new Set<string>(GLOBAL_ERRORS);
  for (const ops of Object.values(doc.paths)) {
    for (const op of Object.values(ops)) for (const r of Object.values(op.responses)) for (const c of r['x-error-codes'] ?? []) declared.add(c);
  }
  for (const code of API_ERROR_CODES) assert.ok(declared.has(code), `${code} is not returned by any documented route`);
});

test('every catalogue code is documented in src/api/README.md with its HTTP status', () => {
  const readme = readFileSync(new URL('../../src/api/README.md', import.meta.url), 'utf8');
  for (const [code, e] of Object.entries(API_ERRORS)) {
    assert.match(readme, new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${e.status}\\s*\\|`), `${code} (${e.status}) missing from the README table`);
  }
  for (const route of ROUTES) {
    const path = API_PREFIX + route.path.replace(/:([A-Za-z]+)/g, '{$1}');
    assert.ok(readme.includes(`${route.method} ${path}`), `${route.method} ${path} missing from the README`);
  }
});

test('the running server answers with the catalogue status for each code it is asked to produce', async () => {
  // A sample per status class, checked against the catalogue rather than literal numbers.
  const cases: [string, keyof typeof API_ERRORS][] = [
    ['/devices/none-such', 'ERR_API_DEVICE_NOT_FOUND'],
    ['/no-such-route', 'ERR_API_ROUTE_NOT_FOUND'],
    ['/devices?limit=x', 'ERR_API_VALIDATION'],
  ];
  for (const [path, code] of cases) {
    const r = await request(`${t.url}${API_PREFIX}${path}`);
    assert.equal(r.status, API_ERRORS[code].status);
    assert.equal((r.body as { error: { code: string } }).error.code, code);
  }
});

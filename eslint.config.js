// Flat config: typescript-eslint's recommended rules on top of ESLint's, plus a few house rules
// from CONVENTIONS.md (no default exports, no console in the core rooms).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/**'],
    rules: {
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'Named exports only (CONVENTIONS.md).' }],
    },
  },
  {
    files: ['src/crypto/**', 'src/cose/**', 'src/pki/**', 'src/store/**', 'src/dtls/**', 'src/coap/**'],
    rules: { 'no-console': 'error' },
  },
);

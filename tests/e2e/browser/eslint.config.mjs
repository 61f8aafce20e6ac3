// ESLint for the studio's JavaScript (web/*.js, a classic browser script) and this folder's browser driver (node).
// ctest `web_lint` runs it from the repository root, where the `files` patterns below start:
//   node tests/e2e/browser/node_modules/eslint/bin/eslint.js -c tests/e2e/browser/eslint.config.mjs web tests/e2e/browser
import js from '@eslint/js';

const browser = { document: 'readonly', window: 'readonly', fetch: 'readonly', EventSource: 'readonly',
  setTimeout: 'readonly', clearTimeout: 'readonly', console: 'readonly', URLSearchParams: 'readonly',
  TextDecoder: 'readonly', createImageBitmap: 'readonly' };
const node = { process: 'readonly', console: 'readonly', fetch: 'readonly', URL: 'readonly', Buffer: 'readonly',
  document: 'readonly', getComputedStyle: 'readonly' };  // these two in the callbacks playwright runs in the page
const rules = { ...js.configs.recommended.rules, eqeqeq: 'error', 'prefer-const': 'error', 'no-var': 'error' };

export default [
  { files: ['web/**/*.js'], rules, languageOptions: { ecmaVersion: 2022, sourceType: 'script', globals: browser } },
  { files: ['tests/e2e/browser/**/*.mjs'], rules,
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: node } },
];

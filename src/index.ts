/**
 * The `rootline` package root: the error base that every room's errors extend, and the version.
 * The rooms themselves are published as subpaths (`rootline/crypto`, `rootline/cose`,
 * `rootline/pki`, `rootline/coap`, `rootline/dtls`, `rootline/store`, ...).
 */
export { RootlineError, InvalidArgumentError, isRootlineError } from './errors.js';

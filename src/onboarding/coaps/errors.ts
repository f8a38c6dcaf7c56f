/** Typed refusals of the CoAPs registrar resources that neither EST nor the registrar has. */
import { RootlineError } from '../../errors.js';

/** The Accept option asks for a Content-Format the resource does not produce (4.06). */
export class CoapsNotAcceptableError extends RootlineError {
  constructor(message: string) {
    super('ERR_COAPS_NOT_ACCEPTABLE', message);
  }
}

/** The request's Content-Format is not one the resource takes (4.15). */
export class CoapsUnsupportedContentFormatError extends RootlineError {
  constructor(message: string) {
    super('ERR_COAPS_UNSUPPORTED_CONTENT_FORMAT', message);
  }
}

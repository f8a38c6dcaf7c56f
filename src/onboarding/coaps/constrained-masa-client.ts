/**
 * The MasaClient that constrained pledges need: the registrar voucher request (RFC 8995 §5.5, as
 * COSE_Sign1 per cBRSKI §7.1, carrying the pledge's COSE request as prior-signed-voucher-request),
 * answered with a COSE-signed voucher (`format: 'cose'`) that the registrar relays on /.well-known/brski/rv.
 * In process; a remote MASA is reached by the HTTPS client (registrar/masa-client.ts), which sends
 * the COSE registrar request as application/voucher+cose.
 */
import { RootlineError } from '../../errors.js';
import type { Masa } from '../masa.js';
import { MasaFailedError } from '../registrar/errors.js';
import type { MasaClient } from '../registrar/masa-client.js';

/** A MASA in this process answering with COSE vouchers; its typed refusals become MasaFailedError with the code. */
export function inProcessConstrainedMasaClient(masa: Pick<Masa, 'requestVoucher'>): MasaClient {
  return {
    async requestVoucher(call) {
      try {
        return (await masa.requestVoucher(call.request, { format: 'cose' })).voucher;
      } catch (err) {
        if (err instanceof RootlineError) throw new MasaFailedError(`the MASA refused: ${err.code}: ${err.message}`, { masaCode: err.code }, { cause: err });
        throw err;
      }
    },
  };
}

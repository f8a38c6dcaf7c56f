/** X.509 Time (internal): the RFC 5280 §4.1.2.5 choice between UTCTime and GeneralizedTime. */
import { Time } from '@peculiar/asn1-x509';

/**
 * RFC 5280 §4.1.2.5: "CAs conforming to this profile MUST always encode certificate validity
 * dates through the year 2049 as UTCTime; certificate validity dates in 2050 or later MUST be
 * encoded as GeneralizedTime." UTCTime cannot express years before 1950, so those are
 * GeneralizedTime too. Fractional seconds are not allowed in either (§4.1.2.5.1/.2), so they are
 * dropped.
 */
export function x509Time(date: Date): Time {
  const d = new Date(Math.floor(date.getTime() / 1000) * 1000);
  const year = d.getUTCFullYear();
  return year >= 1950 && year <= 2049 ? new Time({ utcTime: d }) : new Time({ generalTime: d });
}

/** The 802.1AR / RFC 5280 §4.1.2.5 "no well-defined expiration date" value, 99991231235959Z. */
export const NO_WELL_DEFINED_EXPIRATION = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The process logger: pino, JSON lines. Secret-bearing paths are redacted here, once, so a
 * careless `log.info({ body })` elsewhere cannot leak a PSK or a master key. Redaction is a
 * second line of defence: the API and the key store already keep secrets out of what they log.
 */
import { destination, pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

/**
 * Paths pino replaces with "[redacted]". Wildcards cover one level of nesting; the request body
 * paths cover fastify's request logging when bodies are attached to a log line.
 */
export const REDACTED_PATHS: readonly string[] = [
  'key',
  'psk.key',
  '*.psk.key',
  'credentials.psk.key',
  '*.credentials.psk.key',
  'req.body.credentials.psk.key',
  'body.credentials.psk.key',
  'masterKey',
  '*.masterKey',
  'secret',
  '*.secret',
  'password',
  '*.password',
  'req.headers.authorization',
  'req.headers.cookie',
];

export interface CreateLoggerOptions {
  level: LogLevel;
  /** Where log lines go; default stderr, so stdout stays free for what scripts parse. */
  destination?: DestinationStream;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  return pino(
    {
      name: 'rootline',
      level: options.level,
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    },
    options.destination ?? destination({ fd: 2, sync: true }),
  );
}

/**
 * A store URL fit for a log line: a postgres:// password is replaced, everything else (host,
 * database, SQLite path) kept because operators need it to see which store was opened.
 */
export function redactStoreUrl(url: string): string {
  if (!/^postgres(ql)?:\/\//.test(url)) return url;
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = 'redacted';
    return u.toString();
  } catch {
    return 'postgres://(unparseable)';
  }
}

/**
 * Forwards protocol-room events to the logger. The core rooms (dtls, coap, lwm2m, ...) publish on
 * node:diagnostics_channel instead of logging, so they stay free of any logging library and cost
 * nothing when nobody listens (undici's pattern). The server subscribes here, once.
 *
 * A room that publishes a new channel adds its name to DIAGNOSTIC_CHANNELS with the level its
 * events deserve; messages are plain objects and must never carry secrets (pino's redaction in
 * logger.ts is the backstop, not the plan).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Logger } from 'pino';

export type DiagnosticLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** Channel name → log level. Every name starts with 'rootline:'. */
export const DIAGNOSTIC_CHANNELS: Readonly<Record<string, DiagnosticLevel>> = {
  'rootline:server:listener': 'info',
  'rootline:dtls:handshake': 'debug',
  'rootline:dtls:alert': 'warn',
  'rootline:coap:message': 'trace',
  'rootline:lwm2m:registration': 'info',
  'rootline:onboarding:voucher': 'info',
  'rootline:fota:campaign': 'info',
  'rootline:keystore:key': 'info',
  'rootline:store:postgres:pool-error': 'error',
};

/** Subscribes `logger` to every listed channel; returns a function that unsubscribes them all. */
export function forwardDiagnostics(logger: Logger, channels: Readonly<Record<string, DiagnosticLevel>> = DIAGNOSTIC_CHANNELS): () => void {
  const handlers: [string, (message: unknown, name: string | symbol) => void][] = [];
  for (const [name, level] of Object.entries(channels)) {
    const handler = (message: unknown): void => {
      // Publishers send objects; anything else is wrapped so pino still gets structured fields.
      const fields: Record<string, unknown> = message !== null && typeof message === 'object' ? { ...(message as Record<string, unknown>) } : { value: message };
      // Error objects have no enumerable fields and would log as {}; keep what identifies them.
      for (const [k, v] of Object.entries(fields)) {
        if (v instanceof Error) fields[k] = { type: v.name, message: v.message, code: (v as NodeJS.ErrnoException).code };
      }
      logger[level]({ channel: name, ...fields }, name);
    };
    subscribe(name, handler);
    handlers.push([name, handler]);
  }
  return () => {
    for (const [name, handler] of handlers) unsubscribe(name, handler);
  };
}

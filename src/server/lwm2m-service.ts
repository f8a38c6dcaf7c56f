/**
 * Starts the LwM2M server and the bootstrap server of `rootline serve` on the device listeners,
 * once they are up: the management server on CoAPs (identity = the DTLS session's credential)
 * and on plain CoAP (NoSec, only for devices whose `lwm2mNoSec` attribute allows it), the
 * bootstrap server on CoAPs. DTLS client authentication (RPK, X.509) stays with the CoAPs
 * listener, which already checks every client key against the store and audits refusals; a
 * second verifier would only duplicate its records.
 *
 * Registrations, updates, de-registrations, notifications, Send and bootstrap outcomes go to the
 * event feed (GET /api/v1/events, topic 'lwm2m'). close() removes /rd, /dp and /bs before the
 * listeners stop, so no request reaches a half-closed server.
 */
import type { Logger } from 'pino';
import type { EventPublisher } from '../api/events-hub.js';
import { nodeToJson, valueToJson, createBootstrapServer, createLwm2mServer, dtlsPeerIdentity, noSecPeerIdentity, type Lwm2mServer, type BootstrapServer, type Lwm2mServerOptions } from '../lwm2m/server/index.js';
import { formatPath } from '../lwm2m/model/path.js';
import type { RegistrationRecord, Store } from '../store/types.js';
import type { CoapListener } from './coap-listeners.js';
import type { BootstrapSecrets } from './lwm2m-bootstrap-secrets.js';
import { registrationView, type Lwm2mGatewayService } from './lwm2m-gateway.js';

/** The LwM2M server settings `startServer` passes through (queue mode, expiry sweep). */
export type Lwm2mTuning = Pick<Lwm2mServerOptions, 'queue' | 'lifetimeGraceMs' | 'sweepIntervalMs'>;

export interface Lwm2mServicesOptions {
  store: Store;
  secure: CoapListener;
  noSec: CoapListener;
  secrets: BootstrapSecrets;
  gateway: Lwm2mGatewayService;
  events: EventPublisher;
  logger: Logger;
  tuning?: Lwm2mTuning;
}

export interface Lwm2mServices {
  readonly lwm2m: Lwm2mServer;
  readonly bootstrap: BootstrapServer;
  close(): Promise<void>;
}

/** What the feed says about a registration: no peer address, no link payload, just the facts. */
function registrationEvent(r: RegistrationRecord): Record<string, unknown> {
  const view = registrationView(r);
  return { endpoint: r.endpoint, ...view.lastRegistration, objects: view.objects };
}

export function startLwm2mServices(o: Lwm2mServicesOptions): Lwm2mServices {
  const secureEndpoint = o.secure.endpoint;
  const dtls = o.secure.dtls;
  const plainEndpoint = o.noSec.endpoint;
  if (secureEndpoint === undefined || dtls === undefined || plainEndpoint === undefined) throw new Error('the CoAP listeners must be started before the LwM2M server');
  const log = o.logger.child({ room: 'lwm2m' });
  const identityOf = dtlsPeerIdentity((peer) => dtls.getSession(peer));

  const lwm2m = createLwm2mServer({
    ...o.tuning,
    store: o.store,
    endpoints: [
      { endpoint: secureEndpoint, identityOf },
      { endpoint: plainEndpoint, identityOf: noSecPeerIdentity(), noSec: true },
    ],
  });
  const publish = (type: string, data: Record<string, unknown>): void => {
    try {
      o.events.publish('lwm2m', type, data);
    } catch (err) {
      log.error({ err, type }, 'publishing an LwM2M event failed');
    }
  };
  lwm2m.on('registered', ({ registration, replaced }) => publish('lwm2m.registered', { ...registrationEvent(registration), ...(replaced !== undefined ? { replacedId: replaced.id } : {}) }));
  lwm2m.on('updated', ({ registration }) => publish('lwm2m.updated', registrationEvent(registration)));
  lwm2m.on('deregistered', ({ registration, reason }) => publish('lwm2m.deregistered', { endpoint: registration.endpoint, id: registration.id, reason }));
  lwm2m.on('notification', (n) => {
    publish('lwm2m.notification', {
      endpoint: n.endpoint,
      observationId: n.observationId,
      format: n.format,
      ...(n.path !== undefined ? { path: formatPath(n.path) } : {}),
      ...(n.node !== undefined ? { node: nodeToJson(n.node) } : {}),
      ...(n.entries !== undefined ? { entries: n.entries.map((e) => ({ path: formatPath(e.path), ...(e.value !== undefined ? { value: valueToJson(e.value) } : {}) })) } : {}),
    });
  });
  lwm2m.on('send', (ev) => publish('lwm2m.send', { endpoint: ev.endpoint, format: ev.format, entries: ev.entries.map((e) => ({ path: formatPath(e.path), ...(e.value !== undefined ? { value: valueToJson(e.value) } : {}) })) }));
  lwm2m.on('error', (err) => log.error({ err }, 'LwM2M server error'));

  const bootstrap = createBootstrapServer({
    endpoint: secureEndpoint,
    store: o.store,
    identityOf,
    unsealSecret: async (sealed, context) => {
      try {
        return await o.secrets.open(sealed, context);
      } catch (err) {
        // A sealed secret that does not open is tampering or a moved row: refuse and say so.
        const { endpoint, shortServerId, field } = context;
        log.error({ err, endpoint, shortServerId, field }, 'sealed bootstrap secret does not open; bootstrap refused');
        await o.store.audit.append({ actor: 'system', action: 'lwm2m.bootstrap', subject: endpoint, outcome: 'deny', details: { reason: 'sealed secret does not open', shortServerId, field } }).catch((e: unknown) => log.error({ err: e }, 'audit append failed'));
        throw err;
      }
    },
  });
  bootstrap.on('bootstrapped', (r) => publish('lwm2m.bootstrapped', { endpoint: r.endpoint }));
  bootstrap.on('failed', ({ endpoint, error }) => publish('lwm2m.bootstrap-failed', { endpoint, error: error.message.slice(0, 256) }));

  o.gateway.attach(lwm2m);
  let closed = false;
  return {
    lwm2m,
    bootstrap,
    async close() {
      if (closed) return;
      closed = true;
      o.gateway.detach();
      bootstrap.close();
      await lwm2m.close();
    },
  };
}

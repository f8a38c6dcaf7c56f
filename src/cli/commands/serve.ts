/**
 * `rootline serve`: loads the configuration (file, env, flags), starts the server and prints one
 * line per listener with the real bound port, then runs until SIGINT/SIGTERM (or io.shutdown)
 * and closes everything before returning.
 */
import { CONFIG_FLAGS, loadConfig, type ConfigKey } from '../../server/config.js';
import { startServer } from '../../server/server.js';
import { parseCommandArgs, str, type Command, type OptionSpec } from '../command.js';
import type { CliIo } from '../io.js';

const options = {
  config: { type: 'string' },
  masa: { type: 'boolean' },
  ...Object.fromEntries(Object.values(CONFIG_FLAGS).map((flag) => [flag, { type: 'string' }])),
} as OptionSpec;

/**
 * Resolves on io.shutdown's abort, or on SIGINT/SIGTERM. Listening starts before the server does,
 * so a signal that arrives during start-up (or right after the "listening" line) still leads to
 * a clean close instead of Node's default kill.
 */
function shutdownRequest(io: CliIo): { requested: Promise<string>; dispose(): void } {
  if (io.shutdown !== undefined) {
    const signal = io.shutdown;
    return {
      requested: new Promise((resolve) => {
        if (signal.aborted) resolve('abort');
        else signal.addEventListener('abort', () => resolve('abort'), { once: true });
      }),
      dispose: () => undefined,
    };
  }
  let onSignal: (name: NodeJS.Signals) => void = () => undefined;
  const dispose = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  const requested = new Promise<string>((resolve) => {
    // Removed after the first signal: a second Ctrl-C during a slow shutdown gets Node's
    // default handling and ends the process.
    onSignal = (name) => {
      dispose();
      resolve(name);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return { requested, dispose };
}

export const serve: Command = {
  name: 'serve',
  summary: 'run the server (HTTP API, CoAP, CoAPs; EST/BRSKI when onboarding is configured)',
  help: `Usage: rootline serve [options]

Runs rootline in the foreground until SIGINT or SIGTERM. Ports given as 0 pick free ports; the
chosen ones are printed as "rootline: <listener> listening on <url>".

Options (each also settable in the config file and as an environment variable):
  --config <file>           JSON config file (env ROOTLINE_CONFIG)
  --data <dir>              data directory (default ./data; env ROOTLINE_DATA)
  --host <addr>             HTTP API bind address (default 127.0.0.1; env ROOTLINE_HOST)
  --device-host <addr>      CoAP/CoAPs/EST bind address (default 0.0.0.0; env ROOTLINE_DEVICE_HOST)
  --http-port <n>           HTTP API port (default 8080; env ROOTLINE_HTTP_PORT)
  --coap-port <n>           CoAP port (default 5683; env ROOTLINE_COAP_PORT)
  --coaps-port <n>          CoAP over DTLS port (default 5684; env ROOTLINE_COAPS_PORT)
  --est-port <n>            EST/BRSKI HTTPS port (default 8443; env ROOTLINE_EST_PORT)
  --log-level <level>       fatal, error, warn, info, debug, trace, silent (default info; env ROOTLINE_LOG_LEVEL)
  --store <url>             sqlite:<file> or postgres://... (default sqlite:<data>/rootline.db; env ROOTLINE_STORE_URL)
  --master-key-file <file>  master key file (default <data>/master.key; env ROOTLINE_MASTER_KEY_FILE)
  --firmware-max-bytes <n>  largest firmware upload (default 67108864 = 64 MiB; env ROOTLINE_FIRMWARE_MAX_BYTES)
  --campaign-tick-ms <n>    campaign engine tick interval, 10..3600000 (default 1000; env ROOTLINE_CAMPAIGN_TICK_MS)
  --package-base-uri <uri>  coaps://host[:port] devices fetch firmware from (default: the CoAPs address,
                            127.0.0.1 for a wildcard --device-host; env ROOTLINE_PACKAGE_BASE_URI)
  --fota-delivery <method>  default campaign delivery: lwm2m-pull, lwm2m-push, https-pull
                            (default lwm2m-pull; env ROOTLINE_FOTA_DELIVERY)
  --fota-https-port <n>     HTTPS (TLS-PSK) package listener for https-pull (default: off, 5685
                            with --fota-delivery https-pull; env ROOTLINE_FOTA_HTTPS_PORT)
  --fota-https-base-uri <uri>  https://host[:port] devices fetch HTTPS packages from (default: the
                            listener's address; env ROOTLINE_FOTA_HTTPS_BASE_URI)
  --masa                    run the MASA of <data>/factory in this process (turns onboarding on;
                            config file: "onboarding": {"masa": true, ...})

Onboarding (BRSKI registrar + EST on --est-port, printed as "rootline: est listening on
https://..."): off unless the config file has an "onboarding" section or --masa is given, e.g.
  "onboarding": {"manufacturers": [{"caFile": "manufacturer-ca.pem"}], "approval": "manual"}
The domain CA is <data>/onboarding/domain-ca.pem.

The master key itself is read from ROOTLINE_MASTER_KEY when set (64 hex digits or base64),
else from the master key file. On a brand-new data directory without either, one is generated
into <data>/master.key (mode 0600) with a warning to move it into secret storage.
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, options);
    const flags: Partial<Record<ConfigKey, string>> = {};
    for (const [key, flag] of Object.entries(CONFIG_FLAGS) as [ConfigKey, string][]) {
      const v = str(p, flag);
      if (v !== undefined) flags[key] = v;
    }
    const configFile = str(p, 'config');
    const { config, sources } = loadConfig({ ...(configFile !== undefined ? { configFile } : {}), env: io.env, flags, cwd: io.cwd });
    // --masa implies onboarding; with no section in the file, the factory's own manufacturer is trusted.
    if (p.values.masa === true) config.onboarding = { manufacturers: [], approval: 'manual', ...config.onboarding, masa: true };
    const shutdown = shutdownRequest(io);
    try {
      const server = await startServer(config, { sources });
      for (const [name, address] of Object.entries(server.addresses)) io.stdout.write(`rootline: ${name} listening on ${address.url}\n`);
      const reason = await shutdown.requested;
      server.logger.info({ reason }, 'shutdown requested');
      await server.close();
      return 0;
    } finally {
      shutdown.dispose();
    }
  },
};

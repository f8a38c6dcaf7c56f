/**
 * The `rootline` command: dispatches to the command files and turns every failure into one line
 * on stderr and an exit code (2 for usage mistakes, 1 for anything else). bin/rootline.js calls
 * main() on the built code; tests call it in-process with their own CliIo.
 */
import { isRootlineError } from '../errors.js';
import { ConfigError } from '../server/errors.js';
import { packageVersion } from '../server/version.js';
import { wantsHelp, type Command } from './command.js';
import { AUDIT_COMMANDS } from './commands/audit.js';
import { CAMPAIGN_COMMANDS } from './commands/campaign.js';
import { COAP_COMMANDS } from './commands/coap.js';
import { DEVICE_COMMANDS } from './commands/device.js';
import { DEVICE_OBJECT_COMMANDS } from './commands/device-objects.js';
import { FACTORY_COMMANDS } from './commands/factory.js';
import { FIRMWARE_COMMANDS } from './commands/firmware.js';
import { MASA_COMMANDS } from './commands/masa.js';
import { ONBOARDING_COMMANDS } from './commands/onboarding.js';
import { pledge } from './commands/pledge.js';
import { serve } from './commands/serve.js';
import { sim } from './commands/sim.js';
import { UsageError } from './errors.js';
import { processIo, type CliIo } from './io.js';

export const COMMANDS: readonly Command[] = [serve, ...DEVICE_COMMANDS, ...DEVICE_OBJECT_COMMANDS, ...AUDIT_COMMANDS, ...FIRMWARE_COMMANDS, ...CAMPAIGN_COMMANDS, ...FACTORY_COMMANDS, ...MASA_COMMANDS, ...COAP_COMMANDS, sim, ...ONBOARDING_COMMANDS, pledge];

/** Command groups ('device', 'audit', 'coap') and their subcommands. */
function groups(): Map<string, Command[]> {
  const out = new Map<string, Command[]>();
  for (const c of COMMANDS) {
    const [group, sub] = c.name.split(' ');
    if (sub !== undefined) out.set(group!, [...(out.get(group!) ?? []), c]);
  }
  return out;
}

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: rootline <command> [options]

rootline: self-hosted IoT device lifecycle platform.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  --version, -v   print the version
  --help, -h      print help; every command takes --help too

Run 'rootline <command> --help' for a command's options.
`;
}

function groupHelp(group: string, commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: rootline ${group} <${commands.map((c) => c.name.split(' ')[1]).join('|')}> [options]

${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run 'rootline ${group} <command> --help' for a command's options.
`;
}

async function dispatch(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    if (first === 'help' && rest.length > 0) return dispatch([...rest, '--help'], io);
    io.stdout.write(topHelp());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    io.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (first.startsWith('-')) throw new UsageError('', `unknown option ${first}`);

  const single = COMMANDS.find((c) => c.name === first);
  if (single !== undefined) return runCommand(single, rest, io);

  const group = groups().get(first);
  if (group === undefined) throw new UsageError('', `unknown command ${JSON.stringify(first)}`);
  const [sub, ...args] = rest;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.stdout.write(groupHelp(first, group));
    return sub === undefined ? 2 : 0;
  }
  const command = group.find((c) => c.name === `${first} ${sub}`);
  if (command === undefined) throw new UsageError(first, `unknown command ${JSON.stringify(`${first} ${sub}`)}`);
  return runCommand(command, args, io);
}

async function runCommand(command: Command, args: string[], io: CliIo): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(command.help);
    return 0;
  }
  return command.run(args, io);
}

function report(err: unknown, io: CliIo): number {
  if (err instanceof UsageError) {
    const where = err.command === '' ? 'rootline' : `rootline ${err.command}`;
    io.stderr.write(`${where}: ${err.message}\nRun '${where} --help' for usage.\n`);
    return 2;
  }
  // A bad flag value is a usage mistake; a bad file or env value is a failed start.
  if (err instanceof ConfigError && err.source === 'flag') {
    io.stderr.write(`rootline: ${err.message}\nRun 'rootline <command> --help' for usage.\n`);
    return 2;
  }
  if (isRootlineError(err)) {
    io.stderr.write(`rootline: ${err.message} [${err.code}]\n`);
    return 1;
  }
  const e = err as Error;
  io.stderr.write(`rootline: unexpected error: ${e?.stack ?? String(err)}\n`);
  return 1;
}

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const ctx: CliIo = { ...processIo(), ...io };
  try {
    return await dispatch(argv, ctx);
  } catch (err) {
    return report(err, ctx);
  }
}

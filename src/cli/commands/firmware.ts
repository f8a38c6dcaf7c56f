/**
 * `rootline firmware delta|patch` — the delta engine on its own, for any two files, like
 * bsdiff/bspatch — and `rootline firmware add|list|show|remove`, the firmware repository through
 * a running server's API.
 *
 * `patch` applies the way a device does: the old file is read at random offsets through an open
 * file handle, the new image is written strictly in order to a temporary file beside the output,
 * and only a result whose SHA-256 matches the patch header is fsynced and renamed into place, so
 * a failed or interrupted patch never leaves a half-written output behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createDelta, createPatcher } from '../../fota/delta/index.js';
import { ApiClient, resolveApiUrl } from '../api-client.js';
import { intFlag, parseCommandArgs, str, writeJson, type Command, type OptionSpec } from '../command.js';
import { RootlineError } from '../../errors.js';
import { ApiUnreachableError, InputFileError, UsageError } from '../errors.js';
import type { CliIo } from '../io.js';

interface FirmwareView {
  id: string;
  vendor: string;
  model: string;
  version: string;
  sequence: number;
  size: number;
  sha256: string;
  attributes: Record<string, unknown>;
  createdAt: string;
}

const API_OPTION = { api: { type: 'string' } } as const satisfies OptionSpec;
const API_HELP = `  --api <url>            rootline API (default http://127.0.0.1:8080, env ROOTLINE_API)`;

// Mirrors src/api/firmware-schemas.ts so a typo fails here with exit 2, before any upload.
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const MODEL = /^[\x21-\x7e]{1,128}$/;
const VENDOR = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const FIRMWARE_ID = /^[A-Za-z0-9-]{1,64}$/;

function client(command: string, api: string | undefined, io: CliIo): ApiClient {
  return new ApiClient(resolveApiUrl(command, api, io.env), io.fetch);
}

function checkId(command: string, id: string): string {
  if (!FIRMWARE_ID.test(id)) throw new UsageError(command, `<id>: expected a firmware id (1..64 of A-Z a-z 0-9 -), got ${JSON.stringify(id)}`);
  return id;
}

function fileError(what: string, file: string, err: unknown): InputFileError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (code ?? String(err));
  return new InputFileError(`${what}: cannot read ${file}: ${reason}`, { cause: err });
}

async function readInput(what: string, file: string, io: CliIo): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(resolve(io.cwd, file)));
  } catch (err) {
    throw fileError(what, file, err);
  }
}

async function openInput(what: string, file: string, io: CliIo): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(resolve(io.cwd, file), 'r');
  } catch (err) {
    throw fileError(what, file, err);
  }
  // open() succeeds on a directory; the first read would then fail less clearly.
  if (!(await fh.stat()).isFile()) {
    await fh.close();
    throw new InputFileError(`${what}: ${file} is not a regular file`);
  }
  return fh;
}

/**
 * Writes the output through a temporary file in the same directory (so the rename is atomic):
 * `produce` fills it, then it is fsynced and renamed over `file`; on any failure it is removed.
 */
async function writeAtomically(file: string, io: CliIo, produce: (out: FileHandle) => Promise<void>): Promise<string> {
  const target = resolve(io.cwd, file);
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  let out: FileHandle;
  try {
    out = await open(tmp, 'wx', 0o644);
  } catch (err) {
    throw new InputFileError(`--output: cannot write in ${dirname(target)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  try {
    await produce(out);
    await out.sync();
    await out.close();
    await rename(tmp, target);
  } catch (err) {
    await out.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  return target;
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += (await fh.write(bytes, done, bytes.length - done)).bytesWritten;
}

const deltaOptions = { output: { type: 'string', short: 'o' }, json: { type: 'boolean' } } as const satisfies OptionSpec;

export const firmwareDelta: Command = {
  name: 'firmware delta',
  summary: 'make a patch from one file to another (like bsdiff)',
  help: `Usage: rootline firmware delta <old> <new> -o <patch> [--json]

Builds a rootline delta (format RLDT v1) that turns <old> into <new>. The patch names both
files' SHA-256, so it only applies to exactly <old> and only yields exactly <new>.
  -o, --output <file>    where to write the patch (written atomically)
  --json                 print sizes and digests as JSON
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, deltaOptions, ['old', 'new']);
    const output = str(p, 'output');
    if (output === undefined) throw new UsageError(this.name, 'missing --output <patch>');
    const [oldFile, newFile] = [p.positionals[0]!, p.positionals[1]!];
    const oldImage = await readInput('<old>', oldFile, io);
    const newImage = await readInput('<new>', newFile, io);
    const patch = createDelta(oldImage, newImage);
    const written = await writeAtomically(output, io, (out) => writeAll(out, patch));
    const summary = { old: oldFile, new: newFile, patch: written, oldSize: oldImage.length, newSize: newImage.length, patchSize: patch.length };
    if (p.values.json === true) writeJson(io, summary);
    else io.stdout.write(`wrote ${output}: ${patch.length} bytes for a ${newImage.length}-byte image (${newImage.length === 0 ? 0 : ((100 * patch.length) / newImage.length).toFixed(1)} %)\n`);
    return 0;
  },
};

export const firmwarePatch: Command = {
  name: 'firmware patch',
  summary: 'apply a patch made by `firmware delta` (like bspatch), streaming',
  help: `Usage: rootline firmware patch <old> <patch> -o <new> [--json]

Applies a rootline delta to <old> in bounded memory: <old> is read through an open file handle
at the offsets the patch names, the result is streamed to a temporary file and renamed to <new>
only when its SHA-256 matches the patch. A patch for another base fails with ERR_DELTA_WRONG_BASE
before anything is written; a damaged patch with ERR_DELTA_CORRUPT or ERR_DELTA_TRUNCATED.
  -o, --output <file>    where to write the new file
  --json                 print the result's size and SHA-256 as JSON
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, deltaOptions, ['old', 'patch']);
    const output = str(p, 'output');
    if (output === undefined) throw new UsageError(this.name, 'missing --output <new>');
    const [oldFile, patchFile] = [p.positionals[0]!, p.positionals[1]!];
    const old = await openInput('<old>', oldFile, io);
    try {
      const patchHandle = await openInput('<patch>', patchFile, io);
      let result: { newSize: number; newDigest: Uint8Array } | undefined;
      try {
        const oldSize = (await old.stat()).size;
        await writeAtomically(output, io, async (out) => {
          const patcher = createPatcher({
            oldSize,
            async readOld(offset, length) {
              const buf = new Uint8Array(length);
              let got = 0;
              while (got < length) {
                const { bytesRead } = await old.read(buf, got, length - got, offset + got);
                if (bytesRead === 0) break;
                got += bytesRead;
              }
              return got === length ? buf : buf.subarray(0, got);
            },
            writeNew: (chunk) => writeAll(out, chunk),
          });
          for await (const chunk of patchHandle.createReadStream({ autoClose: false, highWaterMark: 16 * 1024 })) {
            await patcher.push(chunk as Uint8Array);
          }
          result = await patcher.finish();
        });
      } finally {
        await patchHandle.close();
      }
      const sha256 = Buffer.from(result!.newDigest).toString('hex');
      if (p.values.json === true) writeJson(io, { output: resolve(io.cwd, output), newSize: result!.newSize, sha256 });
      else io.stdout.write(`wrote ${output}: ${result!.newSize} bytes, sha256 ${sha256}\n`);
      return 0;
    } finally {
      await old.close();
    }
  },
};

const addOptions = {
  ...API_OPTION,
  model: { type: 'string' },
  version: { type: 'string' },
  vendor: { type: 'string' },
  description: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpec;

export const firmwareAdd: Command = {
  name: 'firmware add',
  summary: 'upload a firmware image; the server signs its SUIT manifest',
  help: `Usage: rootline firmware add <file> --model <m> --version <v> [options]

Uploads an image to the firmware repository. The server stores it, gives it the model's next
sequence number and signs its SUIT manifest with the firmware-signing key.
  --model <m>            device model / class (printable ASCII, no spaces)
  --version <v>          semantic version, above every stored version of the model
  --vendor <domain>      vendor domain name (default rootline.invalid: set yours)
  --description <text>   kept with the image
  --json                 print the stored image as JSON
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, addOptions, ['file']);
    const model = str(p, 'model');
    const version = str(p, 'version');
    const vendor = str(p, 'vendor');
    const description = str(p, 'description');
    if (model === undefined) throw new UsageError(this.name, 'missing --model <m>');
    if (version === undefined) throw new UsageError(this.name, 'missing --version <v>');
    if (!MODEL.test(model)) throw new UsageError(this.name, `--model: expected 1..128 printable ASCII characters without spaces, got ${JSON.stringify(model)}`);
    if (!SEMVER.test(version)) throw new UsageError(this.name, `--version: expected a semantic version such as 1.2.0, got ${JSON.stringify(version)}`);
    if (vendor !== undefined && !VENDOR.test(vendor)) throw new UsageError(this.name, `--vendor: expected a domain name such as example.com, got ${JSON.stringify(vendor)}`);
    const bytes = await readInput('<file>', p.positionals[0]!, io);
    if (bytes.length === 0) throw new InputFileError(`<file>: ${p.positionals[0]} is empty`);
    const query = new URLSearchParams({ model, version });
    if (vendor !== undefined) query.set('vendor', vendor);
    if (description !== undefined) query.set('description', description);
    const fw = await client(this.name, str(p, 'api'), io).upload<FirmwareView>(`/firmware?${query}`, bytes, 'application/octet-stream');
    if (p.values.json === true) writeJson(io, fw);
    else io.stdout.write(`added firmware ${fw.id}: ${fw.vendor}/${fw.model} ${fw.version} (sequence ${fw.sequence}, ${fw.size} bytes, sha256 ${fw.sha256})\n`);
    return 0;
  },
};

const listOptions = { ...API_OPTION, model: { type: 'string' }, vendor: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' }, json: { type: 'boolean' } } as const satisfies OptionSpec;

export const firmwareList: Command = {
  name: 'firmware list',
  summary: 'list firmware images',
  help: `Usage: rootline firmware list [options]

Lists images ordered by vendor, model and sequence number.
  --model <m>            only this model
  --vendor <domain>      only this vendor
  --limit <n>            page size 1..1000 (default 100)
  --offset <n>           skip this many (the "next" of the previous page)
  --json                 print the API response as JSON
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, listOptions);
    const query = new URLSearchParams();
    for (const name of ['model', 'vendor'] as const) {
      const v = str(p, name);
      if (v !== undefined) query.set(name, v);
    }
    const limit = intFlag(this.name, p, 'limit', 1, 1000);
    const offset = intFlag(this.name, p, 'offset', 0, 1_000_000_000);
    if (limit !== undefined) query.set('limit', String(limit));
    if (offset !== undefined) query.set('offset', String(offset));
    const qs = query.toString();
    const page = await client(this.name, str(p, 'api'), io).request<{ firmware: FirmwareView[]; next: number | null }>('GET', `/firmware${qs ? `?${qs}` : ''}`);
    if (p.values.json === true) {
      writeJson(io, page);
      return 0;
    }
    const rows = [['ID', 'VENDOR', 'MODEL', 'VERSION', 'SEQ', 'SIZE', 'SHA256'], ...page.firmware.map((f) => [f.id, f.vendor, f.model, f.version, String(f.sequence), String(f.size), f.sha256.slice(0, 16)])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) io.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
    if (page.next !== null) io.stdout.write(`(more: rootline firmware list --offset ${page.next})\n`);
    return 0;
  },
};

const oneOptions = { ...API_OPTION, json: { type: 'boolean' } } as const satisfies OptionSpec;

export const firmwareShow: Command = {
  name: 'firmware show',
  summary: 'show one firmware image',
  help: `Usage: rootline firmware show <id> [--json] [--api <url>]

Shows an image's vendor, model, version, sequence number, size and SHA-256.
  --json                 print the image as JSON
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, oneOptions, ['id']);
    const id = checkId(this.name, p.positionals[0]!);
    const f = await client(this.name, str(p, 'api'), io).request<FirmwareView>('GET', `/firmware/${encodeURIComponent(id)}`);
    if (p.values.json === true) {
      writeJson(io, f);
      return 0;
    }
    const lines = [
      `id:        ${f.id}`,
      `vendor:    ${f.vendor}`,
      `model:     ${f.model}`,
      `version:   ${f.version}`,
      `sequence:  ${f.sequence}`,
      `size:      ${f.size}`,
      `sha256:    ${f.sha256}`,
      `created:   ${f.createdAt}`,
    ];
    if (Object.keys(f.attributes).length > 0) lines.push(`attributes: ${JSON.stringify(f.attributes)}`);
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};

export const firmwareRemove: Command = {
  name: 'firmware remove',
  summary: 'delete a firmware image no unfinished campaign targets',
  help: `Usage: rootline firmware remove <id> [--api <url>]

Deletes an image. Refused (ERR_API_FIRMWARE_IN_USE) while a draft, approved, running or paused
campaign targets it.
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, API_OPTION, ['id']);
    const id = checkId(this.name, p.positionals[0]!);
    await client(this.name, str(p, 'api'), io).request('DELETE', `/firmware/${encodeURIComponent(id)}`);
    io.stdout.write(`removed firmware ${id}\n`);
    return 0;
  },
};

/** The downloaded bytes do not match the digest the server announced; nothing was written. */
export class DownloadMismatchError extends RootlineError {
  constructor(message: string) {
    super('ERR_CLI_DOWNLOAD_MISMATCH', message);
  }
}

const downloadOptions = { ...API_OPTION, output: { type: 'string', short: 'o' }, manifest: { type: 'boolean' }, json: { type: 'boolean' } } as const satisfies OptionSpec;

export const firmwareDownload: Command = {
  name: 'firmware download',
  summary: "download an image (or its signed SUIT manifest) to a file",
  help: `Usage: rootline firmware download <id> -o <file> [--manifest] [--json] [--api <url>]

Streams the image to <file> (written atomically) and checks it against the SHA-256 the server
announces; a mismatch writes nothing and exits 1 (ERR_CLI_DOWNLOAD_MISMATCH).
  -o, --output <file>    where to write it
  --manifest             the signed SUIT envelope (CBOR) instead of the image
  --json                 print size and SHA-256 as JSON
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, downloadOptions, ['id']);
    const id = checkId(this.name, p.positionals[0]!);
    const output = str(p, 'output');
    if (output === undefined) throw new UsageError(this.name, 'missing --output <file>');
    const res = await client(this.name, str(p, 'api'), io).download(`/firmware/${encodeURIComponent(id)}/${p.values.manifest === true ? 'manifest' : 'image'}`);
    // The image's ETag is its SHA-256 (see src/api/README.md); the manifest carries none.
    const expected = p.values.manifest === true ? undefined : /^"([0-9a-f]{64})"$/.exec(res.headers.get('etag') ?? '')?.[1];
    let size = 0;
    const hash = createHash('sha256');
    await writeAtomically(output, io, async (out) => {
      try {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          hash.update(chunk);
          size += chunk.length;
          await writeAll(out, chunk);
        }
      } catch (err) {
        // The server aborts the response when the blob fails its own digest check at the end.
        throw new ApiUnreachableError(`the download was cut off after ${size} bytes (${(err as Error).message}); nothing was written`, { cause: err });
      }
      const got = hash.copy().digest('hex');
      if (expected !== undefined && got !== expected) throw new DownloadMismatchError(`the download's SHA-256 ${got} is not the image's ${expected}; nothing was written`);
    });
    const sha256 = hash.digest('hex');
    if (p.values.json === true) writeJson(io, { output: resolve(io.cwd, output), size, sha256 });
    else io.stdout.write(`wrote ${output}: ${size} bytes, sha256 ${sha256}\n`);
    return 0;
  },
};

export const firmwareSigningKey: Command = {
  name: 'firmware signing-key',
  summary: 'print the public key that signs firmware manifests (what devices trust)',
  help: `Usage: rootline firmware signing-key [--json] [--api <url>]

Prints the firmware-signing public key as PEM (put it on devices as their trust anchor for
manifests). The private key stays in the server's key store.
  --json                 print {algorithm, keyId, publicKey} as JSON
${API_HELP}
`,
  async run(args, io) {
    const p = parseCommandArgs(this.name, args, oneOptions);
    const key = await client(this.name, str(p, 'api'), io).request<{ algorithm: string; keyId: string; publicKey: string }>('GET', '/firmware/signing-key');
    if (p.values.json === true) writeJson(io, key);
    else io.stdout.write(key.publicKey);
    return 0;
  },
};

export const FIRMWARE_COMMANDS: readonly Command[] = [firmwareAdd, firmwareList, firmwareShow, firmwareDownload, firmwareRemove, firmwareSigningKey, firmwareDelta, firmwarePatch];

/**
 * ObjectRegistry: the object definitions a server or client knows, by object id and version. It
 * starts with the OMA core objects shipped in src/lwm2m/objects/ (0, 1, 2, 3, 4, 5, 6, 7, 9) and
 * takes user DDF files on top (loadDirectory / loadXml). The codecs consult it to learn resource
 * types and multiplicity where the content format does not carry them.
 */
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../../errors.js';
import { assertInteger, assertString } from '../../util/assert.js';
import { parseDdf, type DdfLimits } from './ddf.js';
import type { ObjectDefinition, ResourceDefinition } from './definitions.js';
import { Lwm2mBadDdfError } from './errors.js';

/** The object ids whose official DDF files ship with rootline. */
export const BUILTIN_OBJECT_IDS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 9];

function compareVersions(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number) as [number, number];
  const [bm, bn] = b.split('.').map(Number) as [number, number];
  return am !== bm ? am - bm : an - bn;
}

/**
 * Where the shipped DDF files live: next to this module when run from source, and under the
 * package's src/ tree when run from dist/ (package.json "files" ships src/**\/*.xml).
 */
function builtinDirectory(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [join(here, '..', 'objects'), join(here, '..', '..', '..', '..', 'src', 'lwm2m', 'objects')];
  for (const c of candidates) if (existsSync(join(c, '3.xml'))) return c;
  throw new Lwm2mBadDdfError(`built-in object definitions not found (looked in ${candidates.join(', ')})`);
}

export interface ObjectRegistryOptions {
  /** Load the shipped OMA definitions (default true). */
  builtins?: boolean;
  /** Limits applied to every DDF read. */
  ddfLimits?: DdfLimits;
  /** Most definitions held in total (default 10000), so a directory of junk cannot exhaust memory. */
  maxDefinitions?: number;
}

export class ObjectRegistry {
  /** objectId → version → definition. */
  readonly #byId = new Map<number, Map<string, ObjectDefinition>>();
  readonly #ddfLimits: DdfLimits;
  readonly #maxDefinitions: number;
  #count = 0;

  constructor(options: ObjectRegistryOptions = {}) {
    this.#ddfLimits = options.ddfLimits ?? {};
    this.#maxDefinitions = options.maxDefinitions ?? 10000;
    assertInteger(this.#maxDefinitions, 'options.maxDefinitions', 1);
    if (options.builtins !== false) this.loadDirectory(builtinDirectory());
  }

  /** Adds definitions; a definition for an id and version already known replaces the old one. */
  add(definitions: readonly ObjectDefinition[]): void {
    for (const def of definitions) {
      let versions = this.#byId.get(def.id);
      if (versions === undefined) {
        versions = new Map();
        this.#byId.set(def.id, versions);
      }
      if (!versions.has(def.version)) {
        if (this.#count >= this.#maxDefinitions) throw new Lwm2mBadDdfError(`more than ${this.#maxDefinitions} object definitions`);
        this.#count++;
      }
      versions.set(def.version, def);
    }
  }

  /** Parses one DDF document and adds its objects; returns them. */
  loadXml(xml: string | Uint8Array): ObjectDefinition[] {
    const defs = parseDdf(xml, this.#ddfLimits);
    this.add(defs);
    return defs;
  }

  /**
   * Loads every *.xml file of a directory (not recursive). All files are parsed before any is
   * added, so a bad file leaves the registry unchanged; the error names the file.
   */
  loadDirectory(dir: string): ObjectDefinition[] {
    assertString(dir, 'dir');
    const names = readdirSync(dir)
      .filter((n) => n.toLowerCase().endsWith('.xml'))
      .sort();
    const all: ObjectDefinition[] = [];
    for (const name of names) {
      const file = join(dir, name);
      if (!statSync(file).isFile()) continue;
      try {
        all.push(...parseDdf(readFileSync(file), this.#ddfLimits));
      } catch (err) {
        if (err instanceof Lwm2mBadDdfError) throw new Lwm2mBadDdfError(`${name}: ${err.message}`, { cause: err });
        throw err;
      }
    }
    this.add(all);
    return all;
  }

  /** The definition of an object: the given version, or the highest version known. */
  get(objectId: number, version?: string): ObjectDefinition | undefined {
    assertInteger(objectId, 'objectId', 0, 65535);
    const versions = this.#byId.get(objectId);
    if (versions === undefined) return undefined;
    if (version !== undefined) {
      if (typeof version !== 'string') throw new InvalidArgumentError('version', 'expected a string');
      return versions.get(version);
    }
    let best: ObjectDefinition | undefined;
    for (const def of versions.values()) if (best === undefined || compareVersions(def.version, best.version) > 0) best = def;
    return best;
  }

  /** The definition of one resource, or undefined when the object or resource is unknown. */
  getResource(objectId: number, resourceId: number, version?: string): ResourceDefinition | undefined {
    return this.get(objectId, version)?.resources.get(resourceId);
  }

  /** Every version known for an object, lowest first. */
  versions(objectId: number): string[] {
    return [...(this.#byId.get(objectId)?.keys() ?? [])].sort(compareVersions);
  }

  /** Ids of every object known, ascending. */
  objectIds(): number[] {
    return [...this.#byId.keys()].sort((a, b) => a - b);
  }
}

/**
 * The device's object tree (OMA LwM2M Core §6.1: Objects → Instances → Resources → Resource
 * Instances) with the operation rules of Core §6.3 enforced against the object model: what the
 * server may read, write and execute; what only the bootstrap server may touch. Pure state plus
 * change listeners — no CoAP here (client-resources.ts binds it to an endpoint).
 */
import { CoapCode } from '../coap/codec.js';
import type { ObjectRegistry } from '../lwm2m/model/registry.js';
import type { ResourceDefinition } from '../lwm2m/model/definitions.js';
import { checkValueAgainst, type Lwm2mNode, type Lwm2mValue, type ObjectInstanceNode, type ResourceNode } from '../lwm2m/model/node.js';
import { makePath, pathIds, formatPath, type Lwm2mPath } from '../lwm2m/model/path.js';
import { Lwm2mOperationError } from './errors.js';

export type ResourceValue = Lwm2mValue | ReadonlyMap<number, Lwm2mValue>;

export interface ResourceHandler {
  /** Produces the value at read time (clocks, counters); overrides the stored value. */
  read?: () => ResourceValue;
  /** Sees a value the server wrote, after the type check; throw to refuse it (4.00). */
  write?: (value: ResourceValue) => void;
  /** Core §6.3.5 Execute, with the argument text (Core §5.4.5 syntax) as sent. */
  execute?: (args: string) => void | Promise<void>;
}

/** Who asks: the management server obeys the model's operations; the bootstrap server may write anything. */
export type Requester = 'server' | 'bootstrap' | 'local';

export type TreeChange = { path: Lwm2mPath; kind: 'value' | 'instances' };

type Instance = Map<number, ResourceValue>;

function refuse(code: number, message: string): never {
  throw new Lwm2mOperationError(code, message);
}

/**
 * Validated paths /o/i and /o/i/r, shared by every tree in the process. A path is a frozen object
 * nobody can change, and every device of a simulator (and every value a device sets) uses the
 * same few dozen: making one per check and per change event was ~3 % of a simulated device's
 * allocations. Only ids below 1024 are kept (the standard objects and their usual instances; the
 * key stays a small integer), at most PATH_CACHE_MAX of them; anything else is made as before.
 */
const PATH_CACHE_MAX = 4096;
const pathCache = new Map<number, Lwm2mPath>();

function cachedPath(o: number, i: number, r?: number): Lwm2mPath {
  if (!(o >= 0 && o < 1024 && i >= 0 && i < 1024 && (r === undefined || (r >= 0 && r < 1024))) || !Number.isInteger(o) || !Number.isInteger(i) || (r !== undefined && !Number.isInteger(r))) {
    return r === undefined ? makePath(o, i) : makePath(o, i, r);
  }
  // Instance paths and resource paths apart: r + 1 (1..1024), 0 for /o/i.
  const key = (o * 1024 + i) * 1025 + (r === undefined ? 0 : r + 1);
  let p = pathCache.get(key);
  if (p === undefined) {
    p = r === undefined ? makePath(o, i) : makePath(o, i, r);
    if (pathCache.size < PATH_CACHE_MAX) pathCache.set(key, p);
  }
  return p;
}

/**
 * A map's numeric keys in ascending order. Ids are mostly added in order (the builders and the
 * servers create them so), and sorting an already sorted array still copies it: checked first.
 */
function sortedKeys(m: ReadonlyMap<number, unknown>): number[] {
  const ids = [...m.keys()];
  for (let k = 1; k < ids.length; k++) if (ids[k - 1]! > ids[k]!) return ids.sort((a, b) => a - b);
  return ids;
}

/** The key of a resource's handler. */
function handlerKey(o: number, i: number, r: number): string {
  return `${o}/${i}/${r}`;
}

export class ObjectTree {
  readonly registry: ObjectRegistry;
  readonly #objects = new Map<number, Map<number, Instance>>();
  readonly #handlers = new Map<string, ResourceHandler>();
  readonly #listeners = new Set<(c: TreeChange) => void>();

  constructor(registry: ObjectRegistry) {
    this.registry = registry;
  }

  onChange(listener: (c: TreeChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(path: Lwm2mPath, kind: TreeChange['kind']): void {
    for (const l of this.#listeners) l({ path, kind });
  }

  #def(objectId: number, resourceId: number): ResourceDefinition | undefined {
    return this.registry.getResource(objectId, resourceId);
  }

  /** Makes an object present (listed at registration) even without instances, e.g. `</5>`. */
  defineObject(objectId: number): void {
    makePath(objectId);
    if (!this.#objects.has(objectId)) this.#objects.set(objectId, new Map());
  }

  objectIds(): number[] {
    return sortedKeys(this.#objects);
  }

  instanceIds(objectId: number): number[] {
    const insts = this.#objects.get(objectId);
    return insts === undefined ? [] : sortedKeys(insts);
  }

  resourceIds(objectId: number, instanceId: number): number[] {
    const inst = this.#objects.get(objectId)?.get(instanceId);
    return inst === undefined ? [] : sortedKeys(inst);
  }

  hasInstance(objectId: number, instanceId: number): boolean {
    return this.#objects.get(objectId)?.has(instanceId) ?? false;
  }

  /** Whether the object is present (what objectIds() lists), without building the sorted list. */
  hasObject(objectId: number): boolean {
    return this.#objects.has(objectId);
  }

  /** Whether the instance holds a value for the resource (what resourceIds() lists). */
  hasResource(objectId: number, instanceId: number, resourceId: number): boolean {
    return this.#objects.get(objectId)?.get(instanceId)?.has(resourceId) ?? false;
  }

  /** Adds or replaces an instance with its resource values (and optional behaviour per resource). */
  setInstance(objectId: number, instanceId: number, resources: Readonly<Record<number, ResourceValue>> | ReadonlyMap<number, ResourceValue>, handlers: Readonly<Record<number, ResourceHandler>> = {}): void {
    const path = cachedPath(objectId, instanceId);
    const inst: Instance = new Map();
    if (resources instanceof Map) {
      for (const [r, v] of resources) {
        this.#check(objectId, instanceId, r, v);
        inst.set(r, v);
      }
    } else {
      // Own enumerable keys, as Object.entries gives them (integer keys in ascending order).
      for (const k of Object.keys(resources)) {
        const r = Number(k);
        const v = (resources as Readonly<Record<string, ResourceValue>>)[k]!;
        this.#check(objectId, instanceId, r, v);
        inst.set(r, v);
      }
    }
    this.defineObject(objectId);
    this.#objects.get(objectId)!.set(instanceId, inst);
    for (const k of Object.keys(handlers)) this.#handlers.set(`${objectId}/${instanceId}/${k}`, (handlers as Readonly<Record<string, ResourceHandler>>)[k]!);
    this.#changed(path, 'instances');
  }

  /** Attaches behaviour to a resource of an existing (or future) instance, e.g. an Execute handler. */
  setHandler(objectId: number, instanceId: number, resourceId: number, handler: ResourceHandler): void {
    cachedPath(objectId, instanceId, resourceId);
    this.#handlers.set(handlerKey(objectId, instanceId, resourceId), handler);
  }

  deleteInstance(objectId: number, instanceId: number): boolean {
    const insts = this.#objects.get(objectId);
    if (insts === undefined || !insts.delete(instanceId)) return false;
    for (const k of [...this.#handlers.keys()]) if (k.startsWith(`${objectId}/${instanceId}/`)) this.#handlers.delete(k);
    this.#changed(cachedPath(objectId, instanceId), 'instances');
    return true;
  }

  #check(o: number, i: number, r: number, v: ResourceValue): void {
    const def = this.#def(o, r);
    if (v instanceof Map) {
      if (def !== undefined && !def.multiple) refuse(CoapCode.BadRequest, `/${o}/${i}/${r} is a single-instance resource`);
      for (const [ri, x] of v) checkValueAgainst(x, def, makePath(o, i, r, ri));
    } else {
      if (def?.multiple === true) refuse(CoapCode.BadRequest, `/${o}/${i}/${r} is a multiple-instance resource`);
      checkValueAgainst(v as Lwm2mValue, def, cachedPath(o, i, r));
    }
  }

  /** The stored (or computed) value of a resource. */
  get(objectId: number, instanceId: number, resourceId: number): ResourceValue | undefined {
    const h = this.#handlers.get(handlerKey(objectId, instanceId, resourceId));
    if (h?.read !== undefined) return h.read();
    return this.#objects.get(objectId)?.get(instanceId)?.get(resourceId);
  }

  /** Sets a value from the device side (a sensor reading, a state change); observers are notified. */
  set(objectId: number, instanceId: number, resourceId: number, value: ResourceValue): void {
    const inst = this.#objects.get(objectId)?.get(instanceId);
    if (inst === undefined) throw new Lwm2mOperationError(CoapCode.NotFound, `${formatPath(makePath(objectId, instanceId))} does not exist`);
    const path = cachedPath(objectId, instanceId, resourceId);
    this.#check(objectId, instanceId, resourceId, value);
    inst.set(resourceId, value);
    this.#changed(path, 'value');
  }

  #readable(o: number, r: number, who: Requester): boolean {
    if (who !== 'server') return true;
    const def = this.#def(o, r);
    return def === undefined || def.operations.read;
  }

  #resourceNode(o: number, i: number, r: number): ResourceNode | undefined {
    const v = this.get(o, i, r);
    if (v === undefined) return undefined;
    return v instanceof Map ? { kind: 'resource', id: r, multiple: true, instances: v } : { kind: 'resource', id: r, multiple: false, value: v as Lwm2mValue };
  }

  #instanceNode(o: number, i: number, who: Requester): ObjectInstanceNode {
    const resources = new Map<number, ResourceNode>();
    for (const r of this.resourceIds(o, i)) {
      if (!this.#readable(o, r, who)) continue;
      const n = this.#resourceNode(o, i, r);
      if (n !== undefined) resources.set(r, n);
    }
    return { kind: 'instance', id: i, resources };
  }

  /** Core §6.1: the Security object (and OSCORE) is never visible to a management server. */
  guard(path: Lwm2mPath, who: Requester): void {
    const o = pathIds(path)[0];
    if (who === 'server' && (o === 0 || o === 21)) refuse(CoapCode.Unauthorized, `${formatPath(path)} is reserved to the bootstrap server`);
  }

  /** Read (Core §6.3.1): the node at `path`, with only readable resources for the server. */
  read(path: Lwm2mPath, who: Requester): Lwm2mNode {
    this.guard(path, who);
    const [o, i, r, ri] = pathIds(path) as [number, number | undefined, number | undefined, number | undefined];
    const insts = this.#objects.get(o);
    if (insts === undefined) refuse(CoapCode.NotFound, `${formatPath(path)} not found`);
    if (i === undefined) {
      const instances = new Map<number, ObjectInstanceNode>();
      for (const id of this.instanceIds(o)) instances.set(id, this.#instanceNode(o, id, who));
      return { kind: 'object', id: o, instances };
    }
    if (!insts.has(i)) refuse(CoapCode.NotFound, `${formatPath(path)} not found`);
    if (r === undefined) return this.#instanceNode(o, i, who);
    const node = this.#resourceNode(o, i, r);
    if (node === undefined) refuse(CoapCode.NotFound, `${formatPath(path)} not found`);
    if (!this.#readable(o, r, who)) refuse(CoapCode.MethodNotAllowed, `${formatPath(path)} is not readable`);
    if (ri === undefined) return node;
    if (!node.multiple) refuse(CoapCode.NotFound, `${formatPath(path)} not found`);
    const v = node.instances.get(ri);
    if (v === undefined) refuse(CoapCode.NotFound, `${formatPath(path)} not found`);
    return { kind: 'resourceInstance', id: ri, value: v };
  }

  #writeResource(o: number, i: number, node: ResourceNode, who: Requester, replace: boolean): void {
    const def = this.#def(o, node.id);
    if (who === 'server' && def !== undefined && !def.operations.write) refuse(CoapCode.MethodNotAllowed, `/${o}/${i}/${node.id} is not writable`);
    let value: ResourceValue;
    if (node.multiple) {
      const current = this.#objects.get(o)?.get(i)?.get(node.id);
      // Core §6.3.3: a partial update of a multiple resource adds or replaces instances; a replace starts over.
      value = !replace && current instanceof Map ? new Map([...current, ...node.instances]) : new Map(node.instances);
    } else value = node.value;
    try {
      this.#check(o, i, node.id, value);
    } catch (err) {
      if (err instanceof Lwm2mOperationError) throw err;
      refuse(CoapCode.BadRequest, (err as Error).message);
    }
    this.#handlers.get(handlerKey(o, i, node.id))?.write?.(value);
    this.#objects.get(o)!.get(i)!.set(node.id, value);
    this.#changed(cachedPath(o, i, node.id), 'value');
  }

  /**
   * Write (Core §6.3.3) and Bootstrap-Write (§6.1.7.?): `replace` (PUT) or partial update (POST).
   * A Bootstrap-Write creates the instance when it does not exist.
   */
  write(path: Lwm2mPath, node: Lwm2mNode, who: Requester, replace: boolean): void {
    this.guard(path, who);
    const [o, i, , ri] = pathIds(path) as [number, number | undefined, number | undefined, number | undefined];
    if (node.kind === 'object') {
      if (who !== 'bootstrap') refuse(CoapCode.MethodNotAllowed, 'only the bootstrap server writes whole objects');
      for (const inst of node.instances.values()) this.write(makePath(o, inst.id), inst, who, replace);
      return;
    }
    if (i === undefined) refuse(CoapCode.BadRequest, 'no instance addressed');
    if (!this.hasInstance(o, i)) {
      if (who !== 'bootstrap') refuse(CoapCode.NotFound, `${formatPath(makePath(o, i))} not found`);
      this.setInstance(o, i, {});
    }
    if (node.kind === 'instance') {
      if (replace) {
        const inst = this.#objects.get(o)!.get(i)!;
        for (const r of [...inst.keys()]) {
          const def = this.#def(o, r);
          // Replace drops the writable resources the payload leaves out (Core §6.3.3); the rest stays.
          if (!node.resources.has(r) && (who === 'bootstrap' || def === undefined || (def.operations.write && !def.mandatory))) inst.delete(r);
        }
      }
      for (const res of node.resources.values()) this.#writeResource(o, i, res, who, false);
      return;
    }
    if (node.kind === 'resource') return this.#writeResource(o, i, node, who, replace);
    // A resource instance (Core 1.1 §6.3.3 on /o/i/r/ri): a partial update of its resource.
    return this.#writeResource(o, i, { kind: 'resource', id: pathIds(path)[2]!, multiple: true, instances: new Map([[ri!, node.value]]) }, who, false);
  }

  /** Execute (Core §6.3.5). */
  async execute(path: Lwm2mPath, args: string, who: Requester): Promise<void> {
    this.guard(path, who);
    const ids = pathIds(path);
    if (ids.length !== 3) refuse(CoapCode.MethodNotAllowed, `${formatPath(path)} cannot be executed`);
    const [o, i, r] = ids as [number, number, number];
    if (!this.hasInstance(o, i)) refuse(CoapCode.NotFound, `${formatPath(path)} not found`);
    const def = this.#def(o, r);
    const h = this.#handlers.get(handlerKey(o, i, r));
    if ((def !== undefined && !def.operations.execute) || h?.execute === undefined) refuse(CoapCode.MethodNotAllowed, `${formatPath(path)} is not executable`);
    await h.execute(args);
  }

  /** Create (Core §6.3.6): returns the new instance id (the lowest free one when the server gave none). */
  create(objectId: number, instanceId: number | undefined, resources: ReadonlyMap<number, ResourceNode>, who: Requester): number {
    this.guard(makePath(objectId), who);
    if (!this.#objects.has(objectId)) refuse(CoapCode.NotFound, `/${objectId} not found`);
    const def = this.registry.get(objectId);
    if (def !== undefined && !def.multiple && this.instanceIds(objectId).length > 0) refuse(CoapCode.BadRequest, `/${objectId} is a single-instance object`);
    let id = instanceId;
    if (id === undefined) for (id = 0; this.hasInstance(objectId, id); id++);
    if (this.hasInstance(objectId, id)) refuse(CoapCode.BadRequest, `/${objectId}/${id} exists`);
    this.setInstance(objectId, id, {});
    try {
      for (const res of resources.values()) this.#writeResource(objectId, id, res, who === 'server' ? 'local' : who, false);
    } catch (err) {
      this.deleteInstance(objectId, id);
      throw err;
    }
    return id;
  }

  /** Delete (Core §6.3.7) / Bootstrap-Delete (§6.1.7.?): removes instances; '/' or '/o' removes many. */
  delete(path: Lwm2mPath, who: Requester): void {
    const ids = pathIds(path);
    if (who === 'bootstrap') {
      // Core 1.1 §6.1.7.5: Bootstrap-Delete on '/' or '/o' deletes every instance except the
      // Bootstrap-Server Account (Security instance with Bootstrap-Server = true) and Device (3).
      const targets = ids.length === 0 ? this.objectIds() : [ids[0]!];
      for (const o of targets) {
        if (o === 3) continue;
        for (const i of this.instanceIds(o)) {
          if (ids.length === 2 && ids[1] !== i) continue;
          const bsAccount = o === 0 && (this.get(0, i, 1) as Lwm2mValue | undefined)?.value === true;
          if (!bsAccount) this.deleteInstance(o, i);
        }
      }
      return;
    }
    this.guard(path, who);
    if (ids.length !== 2) refuse(CoapCode.MethodNotAllowed, `Delete addresses an object instance, not ${formatPath(path)}`);
    // The instance of a mandatory single-instance object (Device, 3) is what the device is: a
    // management server cannot delete it.
    const def = this.registry.get(ids[0]!);
    if (def !== undefined && def.mandatory && !def.multiple) refuse(CoapCode.MethodNotAllowed, `${formatPath(path)} cannot be deleted`);
    if (!this.deleteInstance(ids[0]!, ids[1]!)) refuse(CoapCode.NotFound, `${formatPath(path)} not found`);
  }
}

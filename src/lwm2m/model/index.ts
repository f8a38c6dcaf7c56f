/** The LwM2M object model: definitions (DDF), registry, paths, data tree and values. */
export type { ObjectDefinition, ResourceDefinition, ResourceOperations, ResourceType } from './definitions.js';
export { MAX_LWM2M_ID } from './definitions.js';
export { parseDdf, type DdfLimits } from './ddf.js';
export { BUILTIN_OBJECT_IDS, ObjectRegistry, type ObjectRegistryOptions } from './registry.js';
export { comparePaths, formatPath, makePath, parsePath, pathIds, pathLevel, pathStartsWith, type Lwm2mPath, type Lwm2mPathLevel } from './path.js';
export {
  buildNode,
  checkValue,
  checkValueAgainst,
  flattenNode,
  lwm2mValue,
  multipleResource,
  objectInstance,
  objectNode,
  resourceInstance,
  singleResource,
  type Lwm2mLeaf,
  type Lwm2mNode,
  type Lwm2mValue,
  type Lwm2mValueType,
  type MultipleResourceNode,
  type ObjectInstanceNode,
  type ObjectLink,
  type ObjectNode,
  type ResourceInstanceNode,
  type ResourceNode,
  type SingleResourceNode,
} from './node.js';
export { Lwm2mBadDdfError, Lwm2mBadPathError, Lwm2mBadPayloadError, Lwm2mBadValueError, Lwm2mError, Lwm2mUnsupportedFormatError } from './errors.js';

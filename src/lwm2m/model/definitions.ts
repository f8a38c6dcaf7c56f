/**
 * What an OMA object definition (DDF, LWM2M.xsd) says about an object and its resources, as plain
 * immutable data. Produced by parseDdf(); looked up through ObjectRegistry.
 */

/** LWM2M.xsd `Type`; an empty <Type/> (executable resources) is 'none'. */
export type ResourceType =
  | 'string'
  | 'integer'
  | 'unsigned'
  | 'float'
  | 'boolean'
  | 'opaque'
  | 'time'
  | 'objlnk'
  | 'corelnk'
  | 'none';

export interface ResourceOperations {
  read: boolean;
  write: boolean;
  execute: boolean;
}

export interface ResourceDefinition {
  id: number;
  name: string;
  /** Raw Operations text: '', 'R', 'W', 'RW' or 'E'. */
  operationsText: string;
  operations: ResourceOperations;
  multiple: boolean;
  mandatory: boolean;
  type: ResourceType;
  rangeEnumeration: string;
  units: string;
  description: string;
}

export interface ObjectDefinition {
  id: number;
  name: string;
  urn: string;
  /** The LwM2M enabler version the definition targets ('1.0' when absent, per LWM2M.xsd). */
  lwm2mVersion: string;
  /** Object version ('1.0' when absent, per LWM2M.xsd). */
  version: string;
  multiple: boolean;
  mandatory: boolean;
  description: string;
  resources: ReadonlyMap<number, ResourceDefinition>;
}

/** Highest object, instance, resource or resource-instance id: 65535 is reserved (Core §7.1). */
export const MAX_LWM2M_ID = 65534;

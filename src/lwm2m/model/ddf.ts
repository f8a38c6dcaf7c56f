/**
 * Reads OMA object definitions (DDF XML, schema LWM2M.xsd) into ObjectDefinition values. Pure: takes
 * the XML text, never a file name. Everything read is validated; anything off gives
 * ERR_LWM2M_BAD_DDF naming the element.
 *
 * Security: DDF files may come from users. A DOCTYPE is refused outright (DDF files never carry one,
 * and it is the door to entity-expansion attacks); the parser runs with entity processing off and
 * only the five predefined XML escapes and numeric character references are decoded, by hand, in
 * the text we keep.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { assertInteger } from '../../util/assert.js';
import { InvalidArgumentError } from '../../errors.js';
import { MAX_LWM2M_ID, type ObjectDefinition, type ResourceDefinition, type ResourceType } from './definitions.js';
import { Lwm2mBadDdfError } from './errors.js';

export interface DdfLimits {
  /** Longest XML text accepted, in characters (default 1 MiB; the largest OMA file is ~100 KiB). */
  maxLength?: number;
  /** Most <Object> elements in one file (default 64). */
  maxObjects?: number;
  /** Most <Item> resources per object (default 4096). */
  maxResources?: number;
  /** Deepest element nesting (default 16; a DDF needs 5). */
  maxDepth?: number;
}

const TYPES: ReadonlyMap<string, ResourceType> = new Map([
  ['string', 'string'],
  ['integer', 'integer'],
  ['unsigned integer', 'unsigned'],
  ['float', 'float'],
  ['boolean', 'boolean'],
  ['opaque', 'opaque'],
  ['time', 'time'],
  ['objlnk', 'objlnk'],
  ['corelnk', 'corelnk'],
  ['none', 'none'],
  ['', 'none'],
]);

type XmlElement = Record<string, unknown>;

function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});/g, (_m, ref: string) => {
    switch (ref) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    const cp = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0) throw new Lwm2mBadDdfError(`invalid character reference &${ref};`);
    return String.fromCodePoint(cp);
  });
}

/** Text content of a child element; '' for an empty one; undefined when absent. */
function childText(el: XmlElement, name: string, where: string): string | undefined {
  const v = el[name];
  if (v === undefined) return undefined;
  // Several OMA files repeat an element (6.xml has two <Description2>): the first one counts.
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined || first === null) return '';
  if (typeof first === 'string') return unescapeXml(first).trim();
  if (typeof first === 'object') {
    const text = (first as XmlElement)['#text'];
    if (text === undefined) return '';
    if (typeof text === 'string') return unescapeXml(text).trim();
  }
  throw new Lwm2mBadDdfError(`${where}: <${name}> must hold text`);
}

function requiredText(el: XmlElement, name: string, where: string): string {
  const t = childText(el, name, where);
  if (t === undefined) throw new Lwm2mBadDdfError(`${where}: missing <${name}>`);
  return t;
}

function parseId(text: string, what: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw new Lwm2mBadDdfError(`${what} ${JSON.stringify(text)} is not an integer`);
  const id = Number(text);
  if (id > MAX_LWM2M_ID) throw new Lwm2mBadDdfError(`${what} ${id} is outside 0..${MAX_LWM2M_ID}`);
  return id;
}

function parseMultiple(text: string, where: string): boolean {
  // LWM2M.xsd: <xs:enumeration value="Single"/> <xs:enumeration value="Multiple"/>
  if (text === 'Single') return false;
  if (text === 'Multiple') return true;
  throw new Lwm2mBadDdfError(`${where}: <MultipleInstances> must be Single or Multiple, got ${JSON.stringify(text)}`);
}

function parseMandatory(text: string, where: string): boolean {
  if (text === 'Mandatory') return true;
  if (text === 'Optional') return false;
  throw new Lwm2mBadDdfError(`${where}: <Mandatory> must be Mandatory or Optional, got ${JSON.stringify(text)}`);
}

function parseVersion(text: string | undefined, where: string, name: string): string {
  // LWM2M.xsd: ObjectVersion / LWM2MVersion default to 1.0 when absent or empty.
  if (text === undefined || text === '') return '1.0';
  if (!/^[0-9]{1,3}\.[0-9]{1,3}$/.test(text)) throw new Lwm2mBadDdfError(`${where}: <${name}> ${JSON.stringify(text)} is not major.minor`);
  return text;
}

function parseResource(item: unknown, where: string): ResourceDefinition {
  if (typeof item !== 'object' || item === null) throw new Lwm2mBadDdfError(`${where}: <Item> must be an element`);
  const el = item as XmlElement;
  const idAttr = el['@_ID'];
  if (typeof idAttr !== 'string') throw new Lwm2mBadDdfError(`${where}: <Item> without an ID attribute`);
  const id = parseId(idAttr.trim(), `${where}: resource ID`);
  const at = `${where}/resource ${id}`;
  const operationsText = requiredText(el, 'Operations', at);
  // LWM2M.xsd Operations: "" (none; Security object), R, W, RW, E.
  if (!['', 'R', 'W', 'RW', 'E'].includes(operationsText)) {
    throw new Lwm2mBadDdfError(`${at}: <Operations> must be one of '', R, W, RW, E, got ${JSON.stringify(operationsText)}`);
  }
  const typeText = (childText(el, 'Type', at) ?? '').toLowerCase();
  const type = TYPES.get(typeText);
  if (type === undefined) throw new Lwm2mBadDdfError(`${at}: unknown <Type> ${JSON.stringify(typeText)}`);
  if (operationsText === 'E' && type !== 'none') {
    // LWM2M.xsd leaves Type empty for executables; a typed executable is a broken definition.
    throw new Lwm2mBadDdfError(`${at}: an executable resource has no <Type>, got ${type}`);
  }
  if (operationsText !== 'E' && type === 'none') throw new Lwm2mBadDdfError(`${at}: a non-executable resource needs a <Type>`);
  return {
    id,
    name: requiredText(el, 'Name', at),
    operationsText,
    operations: { read: operationsText.includes('R'), write: operationsText.includes('W'), execute: operationsText === 'E' },
    multiple: parseMultiple(requiredText(el, 'MultipleInstances', at), at),
    mandatory: parseMandatory(requiredText(el, 'Mandatory', at), at),
    type,
    rangeEnumeration: childText(el, 'RangeEnumeration', at) ?? '',
    units: childText(el, 'Units', at) ?? '',
    description: childText(el, 'Description', at) ?? '',
  };
}

function parseObject(obj: unknown, maxResources: number): ObjectDefinition {
  if (typeof obj !== 'object' || obj === null) throw new Lwm2mBadDdfError('<Object> must be an element');
  const el = obj as XmlElement;
  const id = parseId(requiredText(el, 'ObjectID', 'object'), 'ObjectID');
  const where = `object ${id}`;
  const resources = new Map<number, ResourceDefinition>();
  const container = el['Resources'];
  const items = typeof container === 'object' && container !== null ? (container as XmlElement)['Item'] : undefined;
  if (container === undefined) throw new Lwm2mBadDdfError(`${where}: missing <Resources>`);
  const list = items === undefined ? [] : (items as unknown[]);
  if (list.length > maxResources) throw new Lwm2mBadDdfError(`${where}: more than ${maxResources} resources`);
  for (const item of list) {
    const r = parseResource(item, where);
    if (resources.has(r.id)) throw new Lwm2mBadDdfError(`${where}: resource ${r.id} defined twice`);
    resources.set(r.id, r);
  }
  return {
    id,
    name: requiredText(el, 'Name', where),
    urn: childText(el, 'ObjectURN', where) ?? '',
    lwm2mVersion: parseVersion(childText(el, 'LWM2MVersion', where), where, 'LWM2MVersion'),
    version: parseVersion(childText(el, 'ObjectVersion', where), where, 'ObjectVersion'),
    multiple: parseMultiple(requiredText(el, 'MultipleInstances', where), where),
    mandatory: parseMandatory(requiredText(el, 'Mandatory', where), where),
    description: childText(el, 'Description1', where) ?? '',
    resources,
  };
}

/**
 * Parses one DDF document (`<LWM2M><Object>...</Object>...</LWM2M>`) into its object definitions.
 * Throws Lwm2mBadDdfError (ERR_LWM2M_BAD_DDF) for anything malformed or out of the schema.
 */
export function parseDdf(xml: string | Uint8Array, limits: DdfLimits = {}): ObjectDefinition[] {
  const maxLength = limits.maxLength ?? 1 << 20;
  const maxObjects = limits.maxObjects ?? 64;
  const maxResources = limits.maxResources ?? 4096;
  const maxDepth = limits.maxDepth ?? 16;
  assertInteger(maxLength, 'limits.maxLength', 1);
  assertInteger(maxObjects, 'limits.maxObjects', 1);
  assertInteger(maxResources, 'limits.maxResources', 1);
  assertInteger(maxDepth, 'limits.maxDepth', 5, 1000);
  let text: string;
  if (typeof xml === 'string') text = xml;
  else if (xml instanceof Uint8Array) {
    if (xml.length > maxLength * 4) throw new Lwm2mBadDdfError(`DDF longer than ${maxLength} characters`);
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(xml);
    } catch (err) {
      throw new Lwm2mBadDdfError('DDF is not valid UTF-8', { cause: err });
    }
  } else throw new InvalidArgumentError('xml', 'expected a string or Uint8Array');
  if (text.length > maxLength) throw new Lwm2mBadDdfError(`DDF longer than ${maxLength} characters`);
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new Lwm2mBadDdfError('DDF must not contain a DOCTYPE or entity declaration');
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true) throw new Lwm2mBadDdfError(`malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    processEntities: false,
    htmlEntities: false,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    maxNestedTags: maxDepth,
    isArray: (name) => name === 'Object' || name === 'Item',
  });
  let doc: XmlElement;
  try {
    doc = parser.parse(text) as XmlElement;
  } catch (err) {
    throw new Lwm2mBadDdfError(`malformed XML: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const root = doc['LWM2M'];
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new Lwm2mBadDdfError('root element must be <LWM2M>');
  const objects = (root as XmlElement)['Object'];
  if (!Array.isArray(objects) || objects.length === 0) throw new Lwm2mBadDdfError('<LWM2M> holds no <Object>');
  if (objects.length > maxObjects) throw new Lwm2mBadDdfError(`more than ${maxObjects} objects in one DDF`);
  return objects.map((o) => parseObject(o, maxResources));
}

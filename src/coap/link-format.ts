/**
 * CoRE Link Format (RFC 6690 §2): parse and serialise `</a>;rt="x";ct=40;obs,</b>`. Pure.
 * Whitespace around the separating commas is tolerated on input (several devices send newlines);
 * none is produced on output.
 */
import { CoapLinkFormatError } from './errors.js';

export interface LinkAttribute {
  name: string;
  /** undefined for a parameter without a value, e.g. `obs`. */
  value?: string;
}

export interface Link {
  target: string;
  attributes: LinkAttribute[];
}

export interface LinkFormatLimits {
  /** Longest input accepted, in characters (default 65536). */
  maxLength?: number;
  /** Most links accepted (default 4096). */
  maxLinks?: number;
}

// RFC 5988 §5: parmname = 1*attr-char; attr-char = ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+"
// / "-" / "." / "^" / "_" / "`" / "|" / "~" (plus "*" for ext-name-star).
const PARMNAME = /^[A-Za-z0-9!#$&+\-.^_`|~*]$/;
// RFC 6690 §2: ptokenchar.
const PTOKEN = /^[!#$%&'()*+\-./0-9:<=>?@A-Za-z[\]^_`{|}~]$/;

function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

/** Parses link-format text into links. Throws CoapLinkFormatError (ERR_COAP_LINK_FORMAT). */
export function parseLinkFormat(text: string, limits: LinkFormatLimits = {}): Link[] {
  const maxLength = limits.maxLength ?? 65536;
  const maxLinks = limits.maxLinks ?? 4096;
  if (text.length > maxLength) throw new CoapLinkFormatError(`input longer than ${maxLength} characters`, maxLength);
  const links: Link[] = [];
  let i = 0;
  const skipWs = (): void => {
    while (isWs(text[i])) i++;
  };
  skipWs();
  if (i === text.length) return links;
  for (;;) {
    if (text[i] !== '<') throw new CoapLinkFormatError("expected '<'", i);
    const close = text.indexOf('>', i + 1);
    if (close < 0) throw new CoapLinkFormatError("unterminated '<'", i);
    const target = text.slice(i + 1, close);
    if (/[\s<>"]/.test(target)) throw new CoapLinkFormatError('invalid character in URI-Reference', i + 1);
    i = close + 1;
    const attributes: LinkAttribute[] = [];
    while (text[i] === ';') {
      i++;
      const start = i;
      while (i < text.length && PARMNAME.test(text[i]!)) i++;
      if (i === start) throw new CoapLinkFormatError('expected a parameter name', i);
      const name = text.slice(start, i);
      if (text[i] !== '=') {
        attributes.push({ name });
        continue;
      }
      i++;
      if (text[i] === '"') {
        i++;
        let value = '';
        for (;;) {
          if (i >= text.length) throw new CoapLinkFormatError('unterminated quoted-string', i);
          const c = text[i]!;
          if (c === '"') break;
          if (c === '\\') {
            if (i + 1 >= text.length) throw new CoapLinkFormatError('dangling escape', i);
            value += text[i + 1];
            i += 2;
            continue;
          }
          value += c;
          i++;
        }
        i++;
        attributes.push({ name, value });
      } else {
        const vs = i;
        while (i < text.length && text[i] !== ',' && text[i] !== ';' && PTOKEN.test(text[i]!)) i++;
        if (i === vs) throw new CoapLinkFormatError('expected a parameter value', i);
        attributes.push({ name, value: text.slice(vs, i) });
      }
    }
    links.push({ target, attributes });
    if (links.length > maxLinks) throw new CoapLinkFormatError(`more than ${maxLinks} links`, i);
    skipWs();
    if (i === text.length) return links;
    if (text[i] !== ',') throw new CoapLinkFormatError("expected ',' or ';'", i);
    i++;
    skipWs();
  }
}

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Serialises links; numeric values go unquoted (ct=40, sz=1024), others quoted. */
export function serializeLinkFormat(links: readonly Link[]): string {
  return links
    .map((l) => {
      if (/[\s<>"]/.test(l.target)) throw new CoapLinkFormatError('invalid character in link target', 0);
      let s = `<${l.target}>`;
      for (const a of l.attributes) {
        if (a.name.length === 0 || ![...a.name].every((c) => PARMNAME.test(c))) {
          throw new CoapLinkFormatError(`invalid parameter name ${JSON.stringify(a.name)}`, 0);
        }
        s += `;${a.name}`;
        if (a.value !== undefined) s += `=${/^[0-9]+$/.test(a.value) ? a.value : quote(a.value)}`;
      }
      return s;
    })
    .join(',');
}

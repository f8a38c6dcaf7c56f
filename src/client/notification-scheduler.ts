/**
 * When to send notifications (OMA LwM2M Core 1.1 §5.1.2 "Attributes", §6.4): Write-Attributes
 * sets pmin / pmax / gt / lt / st per path (an object's or instance's attributes apply to what is
 * below unless overridden). A change is notified no sooner than pmin after the last notification;
 * with gt / lt / st only when the numeric value crosses a threshold or moves by st; and pmax
 * forces a notification when nothing was sent for that long.
 */
import { CoapCode } from '../coap/codec.js';
import type { ResourceHandle } from '../coap/endpoint.js';
import type { Lwm2mLinkAttributes } from '../lwm2m/codec/link-format.js';
import { pathIds, type Lwm2mPath } from '../lwm2m/model/path.js';
import { Lwm2mOperationError } from './errors.js';

type AttrName = 'pmin' | 'pmax' | 'gt' | 'lt' | 'st' | 'epmin' | 'epmax';
const NAMES: readonly AttrName[] = ['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax'];
type Attrs = Partial<Record<AttrName, number>>;

/** Parses Write-Attributes query parameters; a name without value removes that attribute (null). */
export function parseAttributeQuery(query: readonly string[]): Partial<Record<AttrName, number | null>> {
  const out: Partial<Record<AttrName, number | null>> = {};
  for (const q of query) {
    const eq = q.indexOf('=');
    const name = (eq < 0 ? q : q.slice(0, eq)) as AttrName;
    if (!NAMES.includes(name)) throw new Lwm2mOperationError(CoapCode.BadRequest, `unknown attribute ${JSON.stringify(name.slice(0, 16))}`);
    if (eq < 0) {
      out[name] = null;
      continue;
    }
    const text = q.slice(eq + 1);
    const integer = name === 'pmin' || name === 'pmax' || name === 'epmin' || name === 'epmax';
    if (!(integer ? /^[0-9]{1,9}$/ : /^-?[0-9]{1,15}(\.[0-9]{1,15})?$/).test(text)) throw new Lwm2mOperationError(CoapCode.BadRequest, `attribute ${name} has a bad value`);
    const v = Number(text);
    // Core §5.1.2: "st ... MUST be greater than zero"; gt must exceed lt by more than 2*st.
    if (name === 'st' && v <= 0) throw new Lwm2mOperationError(CoapCode.BadRequest, 'st must be greater than zero');
    out[name] = v;
  }
  return out;
}

interface PathState {
  lastSent: number;
  lastValue: number | undefined;
  pminTimer: ReturnType<typeof setTimeout> | undefined;
  pmaxTimer: ReturnType<typeof setTimeout> | undefined;
}

export class NotificationScheduler {
  readonly #handleOf: (key: string) => ResourceHandle | undefined;
  readonly #numeric: (key: string) => number | undefined;
  readonly #attrs = new Map<string, Attrs>();
  readonly #state = new Map<string, PathState>();

  constructor(handleOf: (key: string) => ResourceHandle | undefined, numeric: (key: string) => number | undefined) {
    this.#handleOf = handleOf;
    this.#numeric = numeric;
  }

  setAttributes(key: string, changes: Partial<Record<AttrName, number | null>>): void {
    const next: Attrs = { ...this.#attrs.get(key) };
    for (const [k, v] of Object.entries(changes) as Array<[AttrName, number | null]>) {
      if (v === null) delete next[k];
      else next[k] = v;
    }
    const merged = { ...this.effectiveOf(key, next) };
    if (merged.pmin !== undefined && merged.pmax !== undefined && merged.pmax < merged.pmin) {
      throw new Lwm2mOperationError(CoapCode.BadRequest, 'pmax must not be less than pmin');
    }
    if (merged.gt !== undefined && merged.lt !== undefined && merged.lt >= merged.gt) {
      throw new Lwm2mOperationError(CoapCode.BadRequest, 'lt must be less than gt');
    }
    if (Object.keys(next).length === 0) this.#attrs.delete(key);
    else this.#attrs.set(key, next);
    const s = this.#state.get(key);
    if (s !== undefined) this.#armPmax(key, s);
  }

  /** The attributes set on this path itself. */
  own(key: string): Lwm2mLinkAttributes {
    return { ...this.#attrs.get(key) };
  }

  effectiveOf(key: string, ownOverride?: Attrs): Attrs {
    const parts = key.split('/').filter((s) => s !== '');
    let out: Attrs = {};
    for (let n = 1; n <= parts.length; n++) {
      const k = `/${parts.slice(0, n).join('/')}`;
      out = { ...out, ...(n === parts.length && ownOverride !== undefined ? ownOverride : this.#attrs.get(k)) };
    }
    return out;
  }

  effective(key: string): Lwm2mLinkAttributes {
    return this.effectiveOf(key);
  }

  /** Whether any path is observed (a value change can then notify, at once or when pmin ends). */
  get observing(): boolean {
    return this.#state.size > 0;
  }

  /** A GET with Observe=0 arrived for `key` (also called when the endpoint re-runs it). */
  observed(key: string, _attributes: Lwm2mLinkAttributes): void {
    if (this.#state.has(key)) return;
    const s: PathState = { lastSent: Date.now(), lastValue: this.#numeric(key), pminTimer: undefined, pmaxTimer: undefined };
    this.#state.set(key, s);
    this.#armPmax(key, s);
  }

  /** A value (or the instances) under `path` changed: the observers of it and its ancestors may need a notification. */
  changed(path: Lwm2mPath): void {
    // Values change far more often than anything is observed (a sensor, the clock): nothing
    // observed, nothing to work out.
    if (this.#state.size === 0) return;
    const ids = pathIds(path);
    for (let n = ids.length; n >= 1; n--) this.#maybeNotify(`/${ids.slice(0, n).join('/')}`);
  }

  #maybeNotify(key: string): void {
    const s = this.#state.get(key);
    if (s === undefined) return;
    const h = this.#handleOf(key);
    if (h === undefined || h.observerCount() === 0) return this.forget(key);
    const a = this.effectiveOf(key);
    if (a.gt !== undefined || a.lt !== undefined || a.st !== undefined) {
      const v = this.#numeric(key);
      const last = s.lastValue;
      if (v !== undefined && last !== undefined) {
        // Core §5.1.2: gt / lt notify when the value crosses the threshold (changes side).
        const crossed = (t: number | undefined): boolean => t !== undefined && last < t !== v < t;
        const stepped = a.st !== undefined && Math.abs(v - last) >= a.st;
        if (!crossed(a.gt) && !crossed(a.lt) && !stepped) return;
      }
    }
    if (s.pminTimer !== undefined) return;
    const wait = (a.pmin ?? 0) * 1000 - (Date.now() - s.lastSent);
    if (wait > 0) {
      s.pminTimer = setTimeout(() => {
        s.pminTimer = undefined;
        this.#send(key, s);
      }, wait);
      s.pminTimer.unref?.();
      return;
    }
    this.#send(key, s);
  }

  #send(key: string, s: PathState): void {
    const h = this.#handleOf(key);
    if (h === undefined || h.observerCount() === 0) return this.forget(key);
    s.lastSent = Date.now();
    s.lastValue = this.#numeric(key);
    h.notifyObservers();
    this.#armPmax(key, s);
  }

  #armPmax(key: string, s: PathState): void {
    if (s.pmaxTimer !== undefined) clearTimeout(s.pmaxTimer);
    s.pmaxTimer = undefined;
    const pmax = this.effectiveOf(key).pmax;
    if (pmax === undefined || pmax <= 0) return;
    s.pmaxTimer = setTimeout(() => {
      s.pmaxTimer = undefined;
      this.#send(key, s);
    }, pmax * 1000);
    s.pmaxTimer.unref?.();
  }

  forget(key: string): void {
    const s = this.#state.get(key);
    if (s === undefined) return;
    clearTimeout(s.pminTimer);
    clearTimeout(s.pmaxTimer);
    this.#state.delete(key);
  }

  close(): void {
    for (const k of [...this.#state.keys()]) this.forget(k);
    this.#attrs.clear();
  }
}

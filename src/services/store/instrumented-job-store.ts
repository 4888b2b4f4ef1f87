import { inSpan, SpanKind, type Tracer } from '../../lib/spans.js';
import type { ApplyResult, JobStore } from './job-store.js';

// A JobStore seen from outside: a span per method call (with a tracer), and each applied upstream state handed to
// an observer (metrics: how long a job waited QUEUED). A Proxy rather than a class, so that every method, also one
// added to the interface later, is wrapped, and each runs on the real store (whose #private fields a subclass or a
// prototype copy could not reach).

export interface JobStoreInstruments {
  tracer?: Tracer;
  /** `db.system.name` of the spans: sqlite or postgresql. */
  system: string;
  /** Told of every applyUpstreamState that found its job. */
  onApplied?: (result: ApplyResult) => void;
}

export function instrumentJobStore(store: JobStore, instruments: JobStoreInstruments): JobStore {
  const { tracer, system, onApplied } = instruments;
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      let wrapper = wrapped.get(property);
      if (!wrapper && !tracer && property !== 'applyUpstreamState') {
        // Nothing to observe: the real method, bound to the real store (a call through the Proxy would not reach
        // its #private fields).
        wrapper = (value as (...args: unknown[]) => unknown).bind(target);
        wrapped.set(property, wrapper);
      }
      if (!wrapper) {
        const method = value as (...args: unknown[]) => unknown;
        const attributes = { 'db.system.name': system, 'db.operation.name': property };
        wrapper = (...args: unknown[]) =>
          inSpan(tracer, `store.${property}`, { kind: SpanKind.CLIENT, attributes }, async () => {
            const result = await method.apply(target, args);
            if (property === 'applyUpstreamState' && result && onApplied) onApplied(result as ApplyResult);
            return result;
          });
        wrapped.set(property, wrapper);
      }
      return wrapper;
    },
  });
}

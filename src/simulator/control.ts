// Failure injection: a queue of rules consulted, in the order they were added, by each submit or status read.

export type InjectionEndpoint = 'submit' | 'read' | 'any';
export type InjectedBody = 'json' | 'detail' | 'validation' | 'html' | 'empty';

export interface FailSpec {
  status: number;
  endpoint?: InjectionEndpoint;
  times?: number;
  body?: InjectedBody;
  headers?: Record<string, string>;
}

export interface HangSpec {
  endpoint?: InjectionEndpoint;
  times?: number;
}

export type Injection =
  | { kind: 'fail'; status: number; body: InjectedBody; headers: Record<string, string> }
  | { kind: 'hang' };

interface Rule {
  endpoint: InjectionEndpoint;
  remaining: number;
  injection: Injection;
}

const ENDPOINTS: readonly InjectionEndpoint[] = ['submit', 'read', 'any'];
const BODIES: readonly InjectedBody[] = ['json', 'detail', 'validation', 'html', 'empty'];

export class ControlSpecError extends Error {
  override name = 'ControlSpecError';
}

function checkCommon(spec: { endpoint?: unknown; times?: unknown }): { endpoint: InjectionEndpoint; times: number } {
  const endpoint = spec.endpoint ?? 'any';
  if (!ENDPOINTS.includes(endpoint as InjectionEndpoint))
    throw new ControlSpecError(`endpoint must be one of ${ENDPOINTS.join(', ')}`);
  const times = spec.times ?? 1;
  if (typeof times !== 'number' || !Number.isInteger(times) || times < 1)
    throw new ControlSpecError('times must be a positive integer');
  return { endpoint: endpoint as InjectionEndpoint, times };
}

export class FailureInjector {
  private rules: Rule[] = [];

  fail(spec: FailSpec): void {
    const { endpoint, times } = checkCommon(spec);
    if (!Number.isInteger(spec.status) || spec.status < 200 || spec.status > 599) {
      throw new ControlSpecError('status must be an HTTP status code (200-599)');
    }
    // Claid's documented 429 is the wrapped `detail` shape; everything else defaults to flat HttpErrorDetails.
    const body = spec.body ?? (spec.status === 429 ? 'detail' : 'json');
    if (!BODIES.includes(body)) throw new ControlSpecError(`body must be one of ${BODIES.join(', ')}`);
    const headers = spec.headers ?? {};
    if (
      typeof headers !== 'object' ||
      headers === null ||
      Array.isArray(headers) ||
      Object.values(headers).some((v) => typeof v !== 'string')
    ) {
      throw new ControlSpecError('headers must map header names to strings');
    }
    this.rules.push({
      endpoint,
      remaining: times,
      injection: { kind: 'fail', status: spec.status, body, headers: { ...headers } },
    });
  }

  hang(spec: HangSpec = {}): void {
    const { endpoint, times } = checkCommon(spec);
    this.rules.push({ endpoint, remaining: times, injection: { kind: 'hang' } });
  }

  /** The injection for this request, if a rule matches; using it counts one of the rule's `times`. */
  take(endpoint: 'submit' | 'read'): Injection | undefined {
    const index = this.rules.findIndex((r) => r.endpoint === 'any' || r.endpoint === endpoint);
    const rule = this.rules[index];
    if (!rule) return undefined;
    rule.remaining--;
    if (rule.remaining <= 0) this.rules.splice(index, 1);
    return rule.injection;
  }

  clear(): void {
    this.rules = [];
  }
}

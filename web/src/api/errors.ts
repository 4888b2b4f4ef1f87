// The API's errors as the app shows them: the message as the gateway words it, its code, and what a form needs
// from extensions (the input path of BAD_USER_INPUT, the wait of a rate limit).

export interface WireError {
  message: string;
  extensions?: Record<string, unknown>;
}

export interface FieldProblem {
  field: string;
  message: string;
}

export class ApiError extends Error {
  override name = 'ApiError';
  /** When the answer came: a retry time counts from here. */
  readonly receivedAt = Date.now();
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly extensions: Record<string, unknown>,
  ) {
    super(message);
  }

  static from(error: WireError): ApiError {
    const extensions = error.extensions ?? {};
    const code = typeof extensions.code === 'string' ? extensions.code : undefined;
    return new ApiError(error.message, code, extensions);
  }

  /** The fields named (BAD_USER_INPUT's): `extensions.fields` when several, else `extensions.field` with the message. */
  get fieldProblems(): FieldProblem[] {
    const { field, fields } = this.extensions;
    if (Array.isArray(fields)) return fields.filter(isFieldProblem);
    return typeof field === 'string' ? [{ field, message: this.message }] : [];
  }

  /** The same error, said of `field` (an upload refused whole is the file's fault). */
  about(field: string): ApiError {
    return new ApiError(this.message, this.code, { ...this.extensions, field });
  }

  /** Seconds to wait before retrying (rate limits, a store outage), when the API gave them. */
  get retryAfterSeconds(): number | undefined {
    const value = this.extensions.retryAfterSeconds;
    return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  }
}

function isFieldProblem(value: unknown): value is FieldProblem {
  const v = value as Partial<FieldProblem> | null;
  return typeof v?.field === 'string' && typeof v.message === 'string';
}

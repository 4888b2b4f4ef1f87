// A field's error, tied to its control by id (aria-describedby) and announced when it appears.

export const errorId = (field: string): string => `error-${field.replace(/[^a-z0-9]+/gi, '-')}`;

export function FieldError({ field, errors }: { field: string; errors: Record<string, string> }) {
  const message = errors[field];
  if (!message) return null;
  return (
    <p class="field-error" id={errorId(field)} role="alert" data-field={field}>
      {message}
    </p>
  );
}

/** The props that mark a control invalid and point it at its error. */
export function invalidProps(field: string, errors: Record<string, string>) {
  return errors[field] ? { 'aria-invalid': true as const, 'aria-describedby': errorId(field) } : {};
}

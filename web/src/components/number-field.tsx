import { FieldError, invalidProps } from './field-error.js';

// A labelled number input with its error beneath. The value stays the text typed: the check before submit (and the
// API) say what is wrong with it, in their words, rather than the browser's.

interface Props {
  label: string;
  name: string;
  /** The API's input path of the value, by which its error is found. */
  field: string;
  value: string;
  onInput: (value: string) => void;
  inputMode: 'numeric' | 'decimal';
  min: number;
  max: number;
  step: number;
  placeholder?: string;
  errors: Record<string, string>;
}

export function NumberField({
  label,
  name,
  field,
  value,
  onInput,
  inputMode,
  min,
  max,
  step,
  placeholder,
  errors,
}: Props) {
  return (
    <label>
      <span>{label}</span>
      <input
        name={name}
        type="number"
        inputMode={inputMode}
        min={min}
        max={max}
        step={step}
        placeholder={placeholder}
        value={value}
        onInput={(event) => onInput(event.currentTarget.value)}
        {...invalidProps(field, errors)}
      />
      <FieldError field={field} errors={errors} />
    </label>
  );
}

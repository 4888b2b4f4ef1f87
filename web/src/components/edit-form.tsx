import type { AiEditAspectRatio, AiEditImageFormat, AiEditModel } from '../../../client/gql/graphql.js';
import type { ApiError } from '../api/errors.js';
import { ASPECT_RATIOS, type EditFormValues, ratioLabel } from '../form/edit-form.js';
import { ApiErrorMessage } from './api-error.js';
import { FieldError, invalidProps } from './field-error.js';
import { ImageSourcePicker } from './image-source-picker.js';
import { NumberField } from './number-field.js';

// The edit to submit. Aspect ratio, steps and guidance are V1's alone: they show only with V1, as the API takes
// them only then. Field errors come from the check before submit or from the API's BAD_USER_INPUT, by input path.

interface Props {
  values: EditFormValues;
  onChange: (values: EditFormValues) => void;
  onSubmit: () => void;
  busy: string | undefined;
  fieldErrors: Record<string, string>;
  error: ApiError | undefined;
}

export function EditForm({ values, onChange, onSubmit, busy, fieldErrors, error }: Props) {
  const set = <K extends keyof EditFormValues>(key: K, value: EditFormValues[K]) =>
    onChange({ ...values, [key]: value });
  const v1 = values.model === 'V1';
  return (
    <form
      class="edit-form"
      aria-label="New edit"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        onSubmit();
      }}
    >
      <ImageSourcePicker source={values.source} onChange={(source) => set('source', source)} errors={fieldErrors} />

      <label class="prompt">
        <span>Prompt</span>
        <textarea
          name="prompt"
          rows={3}
          placeholder="Add a green velvet armchair by the window"
          value={values.prompt}
          onInput={(event) => set('prompt', event.currentTarget.value)}
          {...invalidProps('input.options.prompt', fieldErrors)}
        />
      </label>
      <FieldError field="input.options.prompt" errors={fieldErrors} />

      <div class="options">
        <label>
          <span>Model</span>
          <select
            name="model"
            value={values.model}
            onChange={(event) => set('model', event.currentTarget.value as AiEditModel)}
          >
            <option value="V1">V1</option>
            <option value="V2">V2 (default, 2K)</option>
          </select>
        </label>
        {v1 ? (
          <>
            <label>
              <span>Aspect ratio</span>
              <select
                name="aspectRatio"
                value={values.aspectRatio}
                onChange={(event) => set('aspectRatio', event.currentTarget.value as AiEditAspectRatio | '')}
                {...invalidProps('input.options.aspectRatio', fieldErrors)}
              >
                <option value="">As the input</option>
                {ASPECT_RATIOS.map((ratio) => (
                  <option key={ratio} value={ratio}>
                    {ratioLabel(ratio)}
                  </option>
                ))}
              </select>
              <FieldError field="input.options.aspectRatio" errors={fieldErrors} />
            </label>
            <NumberField
              label="Steps (1–50)"
              name="inferenceSteps"
              field="input.options.inferenceSteps"
              inputMode="numeric"
              min={1}
              max={50}
              step={1}
              placeholder="default"
              value={values.inferenceSteps}
              onInput={(value) => set('inferenceSteps', value)}
              errors={fieldErrors}
            />
            <NumberField
              label="Guidance (1–10)"
              name="guidanceScale"
              field="input.options.guidanceScale"
              inputMode="decimal"
              min={1}
              max={10}
              step={0.5}
              placeholder="default"
              value={values.guidanceScale}
              onInput={(value) => set('guidanceScale', value)}
              errors={fieldErrors}
            />
          </>
        ) : null}
        <NumberField
          label="Images (1–4)"
          name="numberOfImages"
          field="input.output.numberOfImages"
          inputMode="numeric"
          min={1}
          max={4}
          step={1}
          value={values.numberOfImages}
          onInput={(value) => set('numberOfImages', value)}
          errors={fieldErrors}
        />
        <label>
          <span>Format</span>
          <select
            name="format"
            value={values.format}
            onChange={(event) => set('format', event.currentTarget.value as AiEditImageFormat)}
          >
            <option value="PNG">PNG</option>
            <option value="JPEG">JPEG</option>
          </select>
        </label>
      </div>
      <ApiErrorMessage error={error} />
      <button type="submit" class="primary" disabled={busy !== undefined}>
        {busy ?? 'Edit image'}
      </button>
    </form>
  );
}

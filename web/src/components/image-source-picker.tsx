import { useEffect, useState } from 'preact/hooks';
import { type ImageSource, SOURCE_FIELD } from '../form/edit-form.js';
import { FieldError, invalidProps } from './field-error.js';

// The input image: a bundled sample, a file from disk (chosen or dropped), or a URL Claid can download. A sample
// or a file is uploaded on submit (uploadImage), a URL is sent as it is.

export const SAMPLES = [
  { name: 'Living room', path: '/samples/living-room.jpg' },
  { name: 'Portrait', path: '/samples/portrait.jpg' },
  { name: 'Shapes', path: '/samples/square.png' },
] as const;

interface Props {
  source: ImageSource | undefined;
  onChange: (source: ImageSource | undefined) => void;
  errors: Record<string, string>;
}

export function ImageSourcePicker({ source, onChange, errors }: Props) {
  const [dragging, setDragging] = useState(false);
  const preview = usePreview(source);
  const onFiles = (files: FileList | null | undefined) => {
    const file = files?.[0];
    if (file) onChange({ kind: 'file', file });
  };
  return (
    <fieldset class="image-source">
      <legend>Input image</legend>
      <fieldset class="samples" aria-label="Samples">
        {SAMPLES.map((sample) => (
          <button
            type="button"
            key={sample.path}
            class="sample"
            aria-pressed={source?.kind === 'sample' && source.path === sample.path}
            onClick={() => onChange({ kind: 'sample', ...sample })}
          >
            <img src={sample.path} alt="" width={96} height={64} />
            <span>{sample.name}</span>
          </button>
        ))}
      </fieldset>
      <label
        class={`drop-zone${dragging ? ' dragging' : ''}`}
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(event) => {
          event.preventDefault();
          setDragging(false);
          onFiles(event.dataTransfer?.files);
        }}
      >
        <span>
          <strong>Choose a file</strong> or drop one here (JPEG, PNG, WEBP, AVIF, HEIC)
        </span>
        <input
          type="file"
          name="file"
          accept="image/jpeg,image/png,image/webp,image/avif,image/heic,.heic"
          onChange={(event) => onFiles(event.currentTarget.files)}
          {...invalidProps(SOURCE_FIELD, errors)}
        />
      </label>
      <label class="url-field">
        <span>or an image URL</span>
        <input
          type="url"
          name="url"
          inputMode="url"
          placeholder="https://example.com/room.jpg"
          value={source?.kind === 'url' ? source.url : ''}
          onInput={(event) => {
            const url = event.currentTarget.value;
            onChange(url ? { kind: 'url', url } : undefined);
          }}
          {...invalidProps(SOURCE_FIELD, errors)}
        />
      </label>
      <FieldError field={SOURCE_FIELD} errors={errors} />
      <FieldError field="file" errors={errors} />
      {preview ? (
        <figure class="preview">
          <img src={preview.src} alt="The chosen input" />
          <figcaption>{preview.caption}</figcaption>
        </figure>
      ) : null}
    </fieldset>
  );
}

function usePreview(source: ImageSource | undefined): { src: string; caption: string } | undefined {
  const [fileUrl, setFileUrl] = useState<string>();
  const file = source?.kind === 'file' ? source.file : undefined;
  useEffect(() => {
    if (!file) return;
    const url = URL.createObjectURL(file);
    setFileUrl(url);
    return () => URL.revokeObjectURL(url);
  }, [file]);
  if (!source) return undefined;
  if (source.kind === 'sample') return { src: source.path, caption: `Sample: ${source.name}` };
  if (source.kind === 'url')
    return /^https?:\/\//.test(source.url) ? { src: source.url, caption: source.url } : undefined;
  return fileUrl ? { src: fileUrl, caption: `${file?.name} (${Math.ceil((file?.size ?? 0) / 1024)} kB)` } : undefined;
}

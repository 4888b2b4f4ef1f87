import { useEffect, useRef, useState } from 'preact/hooks';
import type { JobView } from '../job-view.js';
import { formatDateTime, relative } from '../job-view.js';

// The output images: thumbnails that open full size in a dialog (Escape or the button closes it), each with its
// download link and when that link stops working (Claid keeps them 24 hours).

type OutputImage = NonNullable<JobView['result']>['outputObjects'][number];

export function OutputImages({ images, now }: { images: readonly OutputImage[]; now: number }) {
  const [open, setOpen] = useState<OutputImage>();
  return (
    <div class="outputs">
      <h3>Output images</h3>
      <ul class="thumbnails">
        {images.map((image, index) =>
          image.tmpUrl ? (
            <li key={image.tmpUrl}>
              <button type="button" class="thumbnail" onClick={() => setOpen(image)}>
                <img
                  src={image.tmpUrl}
                  alt={`Output ${index + 1}, ${image.width} × ${image.height}`}
                  data-width={image.width ?? undefined}
                  data-height={image.height ?? undefined}
                />
              </button>
              <p class="output-meta">
                {image.width} × {image.height} {image.format}
                {' · '}
                <a href={image.tmpUrl} download target="_blank" rel="noreferrer">
                  Download
                </a>
              </p>
              {image.expiresAt ? (
                <p class="expires">
                  Link expires <time dateTime={image.expiresAt}>{formatDateTime(image.expiresAt)}</time> (
                  {relative(image.expiresAt, now)})
                </p>
              ) : null}
            </li>
          ) : null,
        )}
      </ul>
      {open ? <FullSize image={open} onClose={() => setOpen(undefined)} /> : null}
    </div>
  );
}

function FullSize({ image, onClose }: { image: OutputImage; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog ref={dialog} class="full-size" aria-label="Output image, full size" onClose={onClose}>
      <form method="dialog">
        <button type="submit" class="close">
          Close
        </button>
      </form>
      <img src={image.tmpUrl ?? ''} alt={`Output, ${image.width} × ${image.height}, full size`} />
    </dialog>
  );
}

import { useEffect, useState } from 'preact/hooks';
import type { ApiError } from '../api/errors.js';

// An error the API sent, worded as it worded it, with its code; a rate limit counts down to when a retry may work.

export function ApiErrorMessage({ error }: { error: ApiError | undefined }) {
  const [now, setNow] = useState(Date.now());
  const retry = error?.retryAfterSeconds;
  useEffect(() => {
    if (retry === undefined) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [error, retry]);
  if (!error) return null;
  const left = retry === undefined ? undefined : Math.max(0, Math.ceil(retry - (now - error.receivedAt) / 1000));
  return (
    <div class="api-error" role="alert">
      <p>
        {error.code ? <code>{error.code}</code> : null} {error.message}
      </p>
      {left !== undefined ? (
        <p class="retry" data-retry-after={retry}>
          {left > 0 ? `Try again in ${left} s.` : 'You may try again now.'}
        </p>
      ) : null}
    </div>
  );
}

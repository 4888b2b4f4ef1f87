/**
 * Wraps `release` so that it runs at most once, however often the result is called: a slot or a watch handed out
 * once must be given back once, whether by the normal end, an error path or a second, defensive call.
 */
export function once(release: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release();
  };
}

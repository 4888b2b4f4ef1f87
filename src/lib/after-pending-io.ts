// Work that can wait for what has already arrived: tasks run in the event loop's check phase (setImmediate), which
// follows its poll phase, so the I/O callbacks that came in meanwhile (another job's change from Redis, a socket's
// frame) run first. A turn runs tasks for at most TURN_BUDGET_MS, then leaves the rest to the next turn.
//
// The shared subscriptions complete their members this way once a stream's final event is out: completing every
// subscriber of a job (graphql-ws's `complete`, its bookkeeping, the stream's teardown) costs several times its
// final frames, and run at once it held up the frames of the jobs that changed right after.

const TURN_BUDGET_MS = 2;

const tasks: (() => void)[] = [];
let scheduled = false;

/** Runs `task` after the I/O that is pending now, in arrival order with the other tasks given here. */
export function runAfterPendingIo(task: () => void): void {
  tasks.push(task);
  if (scheduled) return;
  scheduled = true;
  setImmediate(runTurn);
}

function runTurn(): void {
  const until = performance.now() + TURN_BUDGET_MS;
  try {
    do {
      const task = tasks.shift();
      if (!task) break;
      try {
        task();
      } catch (error) {
        // As if thrown where it was queued from (an async function): an unhandled rejection, not a stopped queue.
        void Promise.reject(error);
      }
    } while (performance.now() < until);
  } finally {
    scheduled = tasks.length > 0;
    if (scheduled) setImmediate(runTurn);
  }
}

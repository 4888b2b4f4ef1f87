/** What a failed step reports: the step's name and what it threw. */
export type DisposeFailure = (name: string, error: unknown) => void;

/**
 * Everything a start opened, closed in the reverse order it was opened. A step that fails is reported and the rest
 * still run, so one broken connection never leaves a port, a timer or a file watcher behind.
 */
export class DisposerStack {
  private readonly steps: { name: string; dispose: () => unknown }[] = [];
  private disposing: Promise<void> | undefined;

  constructor(private readonly onFailure: DisposeFailure) {}

  /** Registers `dispose` (sync or async) to run before everything registered earlier. */
  add(name: string, dispose: () => unknown): void {
    if (this.disposing) throw new Error(`cannot add "${name}": the stack is already disposed`);
    this.steps.push({ name, dispose });
  }

  /** Runs every step once, newest first; later calls return the same promise. Never rejects. */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      for (const { name, dispose } of this.steps.toReversed()) {
        try {
          await dispose();
        } catch (error) {
          this.onFailure(name, error);
        }
      }
    })();
    return this.disposing;
  }
}

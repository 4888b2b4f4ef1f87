export interface ScenarioContext {
  quick: boolean;
  verbose: boolean;
  log: (message: string) => void;
}

export interface ScenarioOutcome {
  /** Written to bench/results/<name>.json. */
  result: Record<string, unknown>;
  /** Markdown printed at the end. */
  markdown: string;
}

export type Scenario = (ctx: ScenarioContext) => Promise<ScenarioOutcome>;

export function table(header: string[], rows: (string | number)[][]): string {
  const fmt = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v);
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(fmt).join(' | ')} |`),
  ].join('\n');
}

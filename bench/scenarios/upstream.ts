import type { Scenario } from '../lib/scenario.js';
export const upstream: Scenario = async () => ({ result: {}, markdown: 'todo' });

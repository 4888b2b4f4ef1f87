import type { Scenario } from '../lib/scenario.js';
export const submit: Scenario = async () => ({ result: {}, markdown: 'todo' });

import type { Scenario } from '../lib/scenario.js';
export const subscriptions: Scenario = async () => ({ result: {}, markdown: 'todo' });

import { builder } from './builder.js';

builder.queryType({ description: 'Read AI Edit jobs.' });
builder.mutationType({ description: 'Submit AI Edit jobs.' });

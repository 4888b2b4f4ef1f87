import { builder } from './builder.js';

builder.queryType({ description: 'Read AI Edit jobs.' });
builder.mutationType({ description: 'Upload images and submit AI Edit jobs.' });
builder.subscriptionType({ description: 'Watch AI Edit jobs change, over graphql-ws or Server-Sent Events.' });

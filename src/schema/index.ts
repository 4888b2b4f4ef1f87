import { builder } from './builder.js';
import './scalars.js';
import './enums.js';
import './root.js';
import './ai-edit-job.js';
import './uploaded-image.js';
import './caller-webhooks.js';
import './viewer.js';

export const schema = builder.toSchema({ sortSchema: false });

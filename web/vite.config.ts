import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The web app, built into dist/web (served by the gateway at `/`). `npm run dev:web` serves it with hot reload and
// sends /graphql (HTTP and WebSocket) to a gateway on port 4000.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [preact()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // One small bundle: no module-preload polyfill, which would be an inline script the page's CSP refuses.
    modulePreload: { polyfill: false },
  },
  server: { proxy: { '/graphql': { target: 'http://127.0.0.1:4000', ws: true } } },
});

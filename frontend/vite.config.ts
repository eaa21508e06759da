// Vite builds the web app into dist/, which `stemdeck serve` serves at /.
// Everything is bundled (no CDN, no web fonts); the EQ band definition is imported from
// services/eq/bands.json at build time, so the browser and Python share one definition.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  base: "./", // hash routing + relative assets: works behind any path prefix
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev` against `stemdeck serve` on port 8000
    proxy: { "/v1": "http://127.0.0.1:8000", "/healthz": "http://127.0.0.1:8000" },
    fs: { allow: [repoRoot] },
  },
});

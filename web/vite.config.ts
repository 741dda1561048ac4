/// <reference types="vitest" />
// The page builds into the Python package (server/web_dist -> sliceboard/web_dist), which
// `sliceboard serve` serves at / and /runs/{id}.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "../server/web_dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2020",
  },
  server: { proxy: { "/graphql": { target: "http://127.0.0.1:8000", ws: true }, "/media": "http://127.0.0.1:8000" } },
  test: { environment: "jsdom", include: ["tests/**/*.test.ts"] },
});

import { defineConfig } from "vite";

// The build lands in dist/ (committed): the stream service serves dist/index.html at "/" and
// dist/assets/* at "/assets/", behind Envoy. `make dashboard` rebuilds it.
export default defineConfig({
  base: "/",
  build: { outDir: "dist", assetsDir: "assets", emptyOutDir: true, sourcemap: false },
});

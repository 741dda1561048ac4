// GraphiQL's assets, copied from node_modules next to the built page so /graphql's IDE loads
// them from the server (it loaded them from unpkg.com and was blank on an offline host).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "..", "node_modules");
const target = join(here, "..", "..", "server", "web_dist", "graphiql");
mkdirSync(target, { recursive: true });
const files = {
  "react.production.min.js": "react/umd/react.production.min.js",
  "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
  "js.cookie.min.js": "js-cookie/dist/js.cookie.min.js",
  "graphiql.min.css": "graphiql/graphiql.min.css",
  "graphiql.min.js": "graphiql/graphiql.min.js",
  "plugin-explorer.css": "@graphiql/plugin-explorer/dist/style.css",
  "plugin-explorer.umd.js": "@graphiql/plugin-explorer/dist/index.umd.js",
};
for (const [name, source] of Object.entries(files)) {
  copyFileSync(join(modules, source), join(target, name));
}
console.log(`GraphiQL assets: ${Object.keys(files).length} files in ${target}`);

// Queries typed from the committed SDL: a schema change that breaks the page fails `npm run build`.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../schema/schema.graphql",
  documents: ["src/**/*.ts", "src/**/*.tsx", "!src/gql/**/*"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        documentMode: "string",
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { ID: "string", JSON: "unknown", DateTime: "string", Upload: "File" },
        strictScalars: true,
      },
    },
  },
};

export default config;

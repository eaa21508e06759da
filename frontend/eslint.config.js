// ESLint for the web app: the recommended JavaScript and typescript-eslint rules, syntax only
// (`tsc` already type-checks strictly, and this stays quick on a shared machine).
// typescript-eslint needs TypeScript's JS API, which TypeScript 7 (`tsc`, installed as
// "@typescript/native") does not have: "typescript" in package.json is the official
// @typescript/typescript6 alias, which only the linter reads.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/", "node_modules/"] },
  js.configs.recommended,
  tseslint.configs.recommended,
);

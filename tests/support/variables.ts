/** The environment variables the service reads: the framework's (src/config.ts) and the account module's (account/settings.ts). */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

export const SETTINGS_FILES = ["src/config.ts", "account/settings.ts"];

/** The keys of each file's `envSchema`. */
export function configVariables(): Set<string> {
  const names = new Set<string>();
  for (const file of SETTINGS_FILES) {
    const source = readFileSync(file, "utf8");
    const start = source.indexOf("const envSchema = z.object({");
    assert.ok(start >= 0, `${file} defines envSchema`);
    for (const [, name] of source.slice(start, source.indexOf("\n});", start)).matchAll(/^\s+([A-Z][A-Z0-9_]*):/gm)) names.add(name!);
  }
  return names;
}

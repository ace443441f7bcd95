/** The folder of the vera-service package itself: its package.json, its templates/. */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface PackageInfo {
  root: string;
  version: string;
}

let found: PackageInfo | undefined;

/** Found by walking up from this file: dist/src/cli/ when installed, src/cli/ under tsx. */
export function packageInfo(): PackageInfo {
  if (found) return found;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, "package.json");
    if (existsSync(file)) {
      const { name, version } = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (name === "vera-service") return (found = { root: dir, version: version ?? "0.0.0" });
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("the vera-service package.json was not found above its own files");
    dir = parent;
  }
}

/** The folder of the vera-service package itself: its package.json, its templates/. */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findPackageJson } from "../package-json.ts";

export interface PackageInfo {
  root: string;
  version: string;
}

let found: PackageInfo | undefined;

/** Found by walking up from this file: dist/src/cli/ when installed, src/cli/ under tsx. */
export function packageInfo(): PackageInfo {
  if (found) return found;
  const own = findPackageJson(path.dirname(fileURLToPath(import.meta.url)), { accept: ({ manifest }) => manifest.name === "vera-service" });
  if (!own) throw new Error("the vera-service package.json was not found above its own files");
  return (found = { root: own.dir, version: typeof own.manifest.version === "string" ? own.manifest.version : "0.0.0" });
}

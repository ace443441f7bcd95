/** package.json files above a folder: the app's (its name), the framework's own (its root and version). */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export interface FoundPackage {
  dir: string;
  manifest: { name?: unknown; version?: unknown };
}

/**
 * The nearest package.json at or above `from` that `accept` takes (any, by default), at most
 * `levels` folders up; undefined when none is, or one that should be cannot be read.
 */
export function findPackageJson(from: string, options: { accept?: (found: FoundPackage) => boolean; levels?: number } = {}): FoundPackage | undefined {
  let dir = path.resolve(from);
  for (let level = 0; level < (options.levels ?? Infinity); level++) {
    const file = path.join(dir, "package.json");
    if (existsSync(file)) {
      let found: FoundPackage;
      try {
        found = { dir, manifest: JSON.parse(readFileSync(file, "utf8")) as FoundPackage["manifest"] };
      } catch {
        return undefined;
      }
      if (!options.accept || options.accept(found)) return found;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return undefined;
}

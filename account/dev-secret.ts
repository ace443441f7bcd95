/**
 * The development JWT secret: generated once and kept in DATA_DIR (so tokens survive restarts),
 * used in dev mode when an HS* algorithm has no JWT_SECRET. Production requires JWT_SECRET.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { Logger } from "vera-service";

/** Reads the development JWT secret from DATA_DIR, creating it (owner-only) the first time. */
export function developmentSecret(dataDir: string, log: Logger): string {
  const file = path.resolve(dataDir, "jwt-secret");
  try {
    const secret = readFileSync(file, "utf8").trim();
    if (Buffer.byteLength(secret) >= 32) return secret;
  } catch {
    // Not there yet: create it below.
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  log.info({ file }, "generated a development JWT secret");
  return secret;
}

/**
 * The service and token the dev plugboard pretends the consumer authenticated as: the metadata
 * its join reply carries. ISO-8601 UTC strings; the token's value never travels on a join.
 */
import { createHash, randomUUID } from "node:crypto";

export interface ServiceRecord {
  id: string;
  name: string;
  inserted_at: string;
  updated_at: string;
}

export interface TokenRecord {
  id: string;
  context: string;
  service_id: string;
  inserted_at: string;
  expires_at: string;
}

export interface Identity {
  service: ServiceRecord;
  token: TokenRecord;
}

const TOKEN_LIFETIME_MS = 365 * 24 * 3600 * 1000;

/** A service id that stays the same for a name across restarts (a UUID's shape): what a caller configures. */
export function serviceIdFor(name: string): string {
  const hex = createHash("sha256").update(`vera dev service ${name}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function makeIdentity(service?: { id: string; name: string }, now = new Date()): Identity {
  const at = now.toISOString();
  const serviceId = service?.id ?? randomUUID();
  return {
    service: { id: serviceId, name: service?.name ?? "dev-service", inserted_at: at, updated_at: at },
    token: {
      id: randomUUID(),
      context: "api",
      service_id: serviceId,
      inserted_at: at,
      expires_at: new Date(now.getTime() + TOKEN_LIFETIME_MS).toISOString(),
    },
  };
}

/** Pieces the token-issuing actions share: the not_before/expires_at field type and the answer's fields. */
import { z } from "zod/v4";
import type { TokenClaims } from "./tokens.ts";

/** Unix seconds, up to the year 9999. */
export const unixSeconds = z.number().int().min(0).max(253_402_300_799);

export interface TokenAnswer {
  jwt: string;
  /** The token's nbf, or null when it is valid at once. */
  not_before: number | null;
  expires_at: number;
}

/**
 * The answer's fields as published (an action's `output`, src/actions/registry.ts), for typed
 * clients. Kept bare (no descriptions, no bounds): the published actions travel in the connect
 * URL, which the Vera Plugboard caps near 10,000 bytes (docs/protocol.md).
 */
export const tokenAnswer = z.object({ jwt: z.string(), not_before: z.number().nullable(), expires_at: z.number() });

export function tokenFields(token: { jwt: string; claims: TokenClaims }): TokenAnswer {
  return { jwt: token.jwt, not_before: token.claims.nbf ?? null, expires_at: token.claims.exp };
}

/**
 * How account identifiers compare: usernames and emails case-insensitively (NFC, then lower
 * case; the normalized form is stored next to the original), phones as E.164.
 */
import { parsePhoneNumberWithError, ParseError } from "libphonenumber-js/max";
import { badRequest, type ActionResponse } from "../actions/responses.ts";
import { ACCOUNT_MESSAGES } from "./messages.ts";

export type IdentifierKind = "username" | "email" | "phone_number";

/** An identifier in the form it is compared in: normalized username or email, or E.164 phone. */
export interface AccountKey {
  kind: IdentifierKind;
  normalized: string;
}

export function normalizeUsername(username: string): string {
  return username.normalize("NFC").toLowerCase();
}

export function normalizeEmail(email: string): string {
  return email.normalize("NFC").toLowerCase();
}

export type PhoneResult = { ok: true; e164: string } | { ok: false; problem: string };

/**
 * Parses a phone number written in international form ("+1 202-555-0123", "+12025550123") to
 * E.164. Nothing is extracted from surrounding text, and with `validate` the number must be
 * valid by the full metadata. Login parses without validating: metadata changes over time and a
 * stored number must keep working.
 */
export function parsePhone(text: string, options: { validate: boolean }): PhoneResult {
  let phone;
  try {
    phone = parsePhoneNumberWithError(text, { extract: false });
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    return { ok: false, problem: PARSE_PROBLEMS[error.message] ?? "not a phone number" };
  }
  if (options.validate && !phone.isValid()) return { ok: false, problem: "not a valid number" };
  return { ok: true, e164: phone.number };
}

const PARSE_PROBLEMS: Record<string, string> = {
  INVALID_COUNTRY: "use the international format with the country code, e.g. +1 202 555 0123",
  NOT_A_NUMBER: "not a phone number",
  TOO_SHORT: "too short",
  TOO_LONG: "too long",
  INVALID_LENGTH: "invalid length",
};

/** The throttle's key for an identifier: its kind and normalized value. */
export function throttleKey(key: AccountKey): string {
  return `${key.kind}:${key.normalized}`;
}

/**
 * A phone number a caller wants stored (Register, Edit): validated with full metadata and
 * turned into E.164, or the 400 answer that says why not. Absent stays absent.
 */
export function phoneToStore(text: string | undefined): { e164: string | undefined } | { answer: ActionResponse } {
  if (text === undefined) return { e164: undefined };
  const phone = parsePhone(text, { validate: true });
  return phone.ok ? { e164: phone.e164 } : { answer: badRequest(ACCOUNT_MESSAGES.invalidPhone(phone.problem)) };
}

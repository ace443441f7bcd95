/**
 * The configurable length limits (MIN/MAX_*_LENGTH) and bcrypt's 72-byte ceiling. The actions'
 * static zod schemas hold only fixed outer bounds (a schema is built at import, before any
 * configuration is read); these checks run first thing in `run` and answer in the very format
 * of the dispatcher's own validation errors.
 */
import { z } from "zod/v4";
import type { AccountSettings } from "./settings.ts";
import type { ActionResponse } from "vera-service";
import { invalidFieldsAnswer, type FieldError } from "vera-service";
import { MAX_PASSWORD_BYTES, passwordBytes } from "./passwords.ts";
import { usernameProblem } from "./identifiers.ts";

/** Outer bounds for the static schemas: no configuration may allow more. */
export const OUTER_BOUNDS = {
  name: 1024,
  username: 255,
  email: 254, // RFC 5321's limit on a forward path
  password: MAX_PASSWORD_BYTES, // characters; never more than 72 bytes either
  phone: 64,
  jwt: 16 * 1024, // the token itself may be at most 8 KiB (tokens.ts); this only bounds the input
} as const;

type Limited = "name" | "username" | "email" | "password";

/**
 * Characters as a person counts them: code points after NFC (no trimming, no case folding); a
 * username's after NFKC, the form it is stored in ("ﬃ" is three characters there).
 */
function characters(value: string, form: "NFC" | "NFKC" = "NFC"): number {
  return [...value.normalize(form)].length;
}

/**
 * Length problems of the given fields against the configured limits; `password` is also held
 * to 72 UTF-8 bytes after NFC, since bcrypt would silently ignore the rest. A username is also
 * held to the rules for new usernames (usernameProblem: no invisible or formatting characters,
 * …), which take the place of its length problem: Register and Edit check every username they
 * are about to store through here.
 */
export function lengthErrors(values: Partial<Record<Limited, string>>, limits: AccountSettings["limits"]): FieldError[] {
  const errors: FieldError[] = [];
  for (const field of ["name", "username", "email", "password"] as const) {
    const value = values[field];
    if (value === undefined) continue;
    if (field === "username") {
      const problem = usernameProblem(value);
      if (problem !== undefined) {
        errors.push({ field, message: problem });
        continue;
      }
    }
    const { min, max } = limits[field];
    const n = characters(value, field === "username" ? "NFKC" : "NFC");
    if (n < min) errors.push({ field, message: `must be at least ${min} character${min === 1 ? "" : "s"}` });
    else if (n > max) errors.push({ field, message: `must be at most ${max} character${max === 1 ? "" : "s"}` });
  }
  if (values.password !== undefined) {
    const tooLong = passwordByteError(values.password);
    if (tooLong && !errors.some((e) => e.field === "password")) errors.push(tooLong);
  }
  return errors;
}

/** The 72-byte rule alone (Login checks no other password length: old accounts keep working). */
export function passwordByteError(password: string): FieldError | undefined {
  if (passwordBytes(password) <= MAX_PASSWORD_BYTES) return undefined;
  return { field: "password", message: `must be at most ${MAX_PASSWORD_BYTES} bytes in UTF-8 (bcrypt would ignore the rest)` };
}

/** The 400 answer for field errors, as the dispatcher words its own. */
export function invalidFields(errors: FieldError[]): ActionResponse {
  return invalidFieldsAnswer(errors);
}

/**
 * The account fields' shapes at their outer bounds, shared by every action that takes them
 * (the configured MIN/MAX limits are checked in run, see lengthErrors). Each action adds its
 * own .optional() and .describe().
 */
export const ACCOUNT_FIELD = {
  name: z.string().max(OUTER_BOUNDS.name),
  username: z
    .string()
    .min(1)
    .max(OUTER_BOUNDS.username)
    .regex(/^[^\s\p{C}]+$/u, "must not contain spaces or control characters"),
  email: z.string().max(OUTER_BOUNDS.email).email(),
  phone: z.string().min(1).max(OUTER_BOUNDS.phone),
  password: z.string().max(OUTER_BOUNDS.password),
};

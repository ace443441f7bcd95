/**
 * How account identifiers compare: usernames by their NFKC case fold and, for uniqueness, by
 * their confusable skeleton; emails case-insensitively (NFC, then lower case); phones as E.164.
 * The normalized form is stored next to the original.
 */
import { createRequire } from "node:module";
import { caseFold } from "unicode-case-folding";
import { badRequest, type ActionResponse } from "vera-service";
import { ACCOUNT_MESSAGES } from "./messages.ts";

/**
 * The phone parser's metadata (libphonenumber-js/max) and the confusables table (unhomoglyph)
 * are loaded by their first use, synchronously (both ship CommonJS): a replica that is never
 * given a phone number, or only verifies tokens, never holds them.
 */
const require = createRequire(import.meta.url);
let phoneLibrary: typeof import("libphonenumber-js/max") | undefined;
const phoneNumbers = () => (phoneLibrary ??= require("libphonenumber-js/max") as typeof import("libphonenumber-js/max"));
let confusables: ((text: string) => string) | undefined;
const unhomoglyph = (text: string) => (confusables ??= require("unhomoglyph") as (text: string) => string)(text);

export type IdentifierKind = "username" | "email" | "phone_number";

/** An identifier in the form it is compared in: normalized username or email, or E.164 phone. */
export interface AccountKey {
  kind: IdentifierKind;
  normalized: string;
  /**
   * The identifier as the caller typed it (optional). For a username it lets a lookup also find
   * an account from before NFKC case folding under the form it was registered with
   * (legacyUsernameForm): `{ kind: "username", normalized: normalizeUsername(u), typed: u }`.
   */
  typed?: string;
}

/*
 * Usernames. A new username is stored as typed, NFKC-normalized (for display); it is compared
 * by normalizeUsername (login, and uniqueness of that form) and it must not share its
 * usernameSkeleton with another live account, so lookalikes (Cyrillic "а" for Latin "a",
 * fullwidth letters, an accent or an invisible character added) cannot be registered beside
 * it. usernameProblem says why a new username is refused. Accounts registered before this
 * scheme keep their username_normalized in legacyUsernameForm and keep logging in with it.
 *
 * Case folding is Unicode's full case folding (CaseFolding.txt, statuses C and F: "ß" and "ẞ"
 * fold to "ss", final "ς" to "σ") from the package unicode-case-folding, whose table equals
 * Unicode 17's. JavaScript has none built in, and toUpperCase().toLowerCase() gets some letters
 * wrong ("ẞ" becomes "ß" while "ß" becomes "ss", so the two would not compare equal).
 */

/**
 * The form a new username is compared in: NFKC (fullwidth, ligatures, superscripts and other
 * compatibility characters to their plain forms), full case folding, and NFKC again (folding
 * can leave a string that is not in NFKC).
 */
export function normalizeUsername(username: string): string {
  return caseFold(username.normalize("NFKC")).normalize("NFKC");
}

/**
 * What accounts created before NFKC case folding have in users.username_normalized: NFC, then
 * lower case. Login still matches it, so those accounts keep working as they were typed.
 */
export function legacyUsernameForm(username: string): string {
  return username.normalize("NFC").toLowerCase();
}

/**
 * Invisible: Default_Ignorable_Code_Point (zero-width characters, joiners, variation selectors,
 * U+034F COMBINING GRAPHEME JOINER, the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0,
 * soft hyphen, bidi controls, tags…) and U+2800 BRAILLE PATTERN BLANK, which is none of those
 * but shows as nothing. The fillers are listed too, though the property covers them.
 */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\u2800\u115F\u1160\u3164\uFFA0]/u;
const INVISIBLE_ALL = new RegExp(INVISIBLE.source, "gu");
/** Other (control, format, unassigned, private use, lone surrogate) and white space. */
const OTHER = /\p{C}/u;
const SPACE = /\s/u;
/** Nonspacing marks (General_Category Mn), of any script: accents, Cyrillic titlo, Thai and Arabic vowel marks… */
const NONSPACING_MARKS = /\p{Mn}/gu;

/**
 * Why a new username (Register, Edit) is refused, as a field message; undefined when it is
 * fine. Checked on the username as sent and on its normalized form (NFKC turns some characters
 * into spaces, e.g. "¨" into a space and a combining diaeresis). Login never applies it:
 * existing accounts keep the names they have.
 */
export function usernameProblem(username: string): string | undefined {
  const normalized = normalizeUsername(username);
  for (const form of [username, normalized]) {
    if (INVISIBLE.test(form) || OTHER.test(form)) return "must not contain invisible or formatting characters";
    if (SPACE.test(form)) return "must not contain spaces";
  }
  if (normalized === "") return "must not be empty";
  if (/^\p{M}/u.test(normalized)) return "must not start with a combining mark";
  return undefined;
}

/**
 * The keys that decide whether a username is too close to another: two confusable skeletons
 * in the manner of Unicode TS #39 (section 4: NFD, remove default-ignorable characters,
 * replace each character by its prototype from confusables.txt, NFD again), each unique among
 * live accounts, so a new username is refused when either of its keys is taken.
 *
 * - usernameCasedSkeleton takes the skeleton of the name as it shows (NFKC, letter case kept)
 *   and only then folds case: a capital I has the prototype l, so "aIice" meets "alice" and
 *   "paypaI" meets "paypal".
 * - usernameSkeleton folds case first (normalizeUsername), then takes the skeleton: "АDMIN"
 *   (Cyrillic А) meets "admin" through "аdmin".
 *
 * Beyond TS #39, in both:
 * - Every nonspacing mark (General_Category Mn, of any script) is removed after each NFD, so
 *   "admiń", "admin" + U+0301, "admin" with a Cyrillic titlo (U+0483), a Thai mark (U+0E47), an
 *   Arabic one (U+0610), a Myanmar one (U+1037) or a Tibetan one (U+0F35) all meet "admin".
 *   The price: names of scripts whose vowels are nonspacing marks (some Devanagari or Thai
 *   vowel signs) collide when they differ only in those; spacing vowel signs (Mc) stay.
 * - U+2800 BRAILLE PATTERN BLANK is removed like the default-ignorables, and the result is case
 *   folded and mapped again until it settles, so a letter of a caseless script whose prototype
 *   is a capital (Lisu "ꓮ" → "A") meets the folded Latin letter ("a").
 *
 * The prototypes are confusables.txt of Unicode 13.0.0 as the package unhomoglyph ships it (no
 * npm package ships a newer one). A skeleton is only ever compared, never shown: "m" maps to
 * "rn", so "admin" becomes "adrnin". When the rules change, USERNAME_KEYS_VERSION goes up and
 * the stored keys are made again (account/username-keys.ts).
 */
export function usernameSkeleton(username: string): string {
  return settled(prototypes(normalizeUsername(username)));
}

/** The skeleton of the name as it shows, then case folded (see usernameSkeleton). */
export function usernameCasedSkeleton(username: string): string {
  return settled(fold(prototypes(username.normalize("NFKC"))));
}

/** The version of the rules above that a row's keys were made by (users.username_keys_version). */
export const USERNAME_KEYS_VERSION = 2;

/** Case folded and mapped again until nothing changes (three rounds at most). */
function settled(skeleton: string): string {
  for (let round = 0; round < 3; round++) {
    const again = prototypes(fold(skeleton));
    if (again === skeleton) break;
    skeleton = again;
  }
  return skeleton;
}

function fold(text: string): string {
  return caseFold(text).normalize("NFKC");
}

/** TS #39's skeleton steps, less the invisible characters and every nonspacing mark. */
function prototypes(text: string): string {
  const stripped = text.normalize("NFD").replace(INVISIBLE_ALL, "").replace(NONSPACING_MARKS, "");
  return unhomoglyph(stripped).normalize("NFD").replace(INVISIBLE_ALL, "").replace(NONSPACING_MARKS, "");
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
  const { parsePhoneNumberWithError, ParseError } = phoneNumbers();
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

/**
 * A phone number a caller wants stored (Register, Edit): validated with full metadata and
 * turned into E.164, or the 400 answer that says why not. Absent stays absent.
 */
export function phoneToStore(text: string | undefined): { e164: string | undefined } | { answer: ActionResponse } {
  if (text === undefined) return { e164: undefined };
  const phone = parsePhone(text, { validate: true });
  return phone.ok ? { e164: phone.e164 } : { answer: badRequest(ACCOUNT_MESSAGES.invalidPhone(phone.problem)) };
}

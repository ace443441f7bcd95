/**
 * The account module's public entry: what the account actions in actions/ import besides
 * `vera-service`. Its code still lives under src/auth and src/db (moving it out beside this
 * file is the next step of the framework/app split, docs/framework.md).
 */
export { accounts, type Accounts } from "../src/auth/accounts.ts";
export { signedIn, JWT_FIELD, type SignedIn, type SignedInContext } from "../src/auth/guard.ts";
export { attemptClaim, attemptPassword, THROTTLE_KEY } from "../src/auth/attempts.ts";
export { authenticate } from "../src/auth/authenticate.ts";
export { confirmPassword } from "../src/auth/confirm-password.ts";
export { normalizeEmail, normalizeUsername, parsePhone, phoneToStore, type AccountKey } from "../src/auth/identifiers.ts";
export { ACCOUNT_FIELD, invalidFields, lengthErrors, OUTER_BOUNDS, passwordByteError } from "../src/auth/limits.ts";
export { ACCOUNT_MESSAGES, LIFETIME_MESSAGES } from "../src/auth/messages.ts";
export { mintToken } from "../src/auth/mint.ts";
export { tokenFields, unixSeconds } from "../src/auth/token-fields.ts";
export type { User } from "../src/db/schema.ts";
export { IdentifierTakenError, UserExistsError, type AccountChanges } from "../src/db/users.ts";

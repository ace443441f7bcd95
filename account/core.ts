/**
 * The parts of the account module its actions (account/actions/) are made of: its provider, its
 * sign-in middleware and permission guards, its settings, messages and repositories. The module
 * is built on `vera-service` alone (tests/framework.test.ts holds both sides of that line). Apps
 * reach all of it through the module's entry, account/index.ts (`vera-service/account`).
 */
export { accounts, ACCOUNT_MIGRATIONS, type Accounts } from "./accounts.ts";
export { signedIn, requirePermission, requireRole, JWT_FIELD, type Permitted, type PermittedContext, type SignedIn, type SignedInContext } from "./guard.ts";
export { ADMIN_ROLE, ROLE_NAME, grants } from "./roles.ts";
export { attemptClaim, attemptPassword, THROTTLE_KEY } from "./attempts.ts";
export { authenticate } from "./authenticate.ts";
export { confirmPassword } from "./confirm-password.ts";
export { normalizeEmail, normalizeUsername, parsePhone, phoneToStore, type AccountKey } from "./identifiers.ts";
export { ACCOUNT_FIELD, invalidFields, lengthErrors, OUTER_BOUNDS, passwordByteError } from "./limits.ts";
export { ACCOUNT_MESSAGES, LIFETIME_MESSAGES } from "./messages.ts";
export { mintToken } from "./mint.ts";
export { tokenAnswer, tokenFields, unixSeconds } from "./token-fields.ts";
export type { User } from "./schema.ts";
export { IdentifierTakenError, UserExistsError, type AccountChanges } from "./users.ts";
export { namedAccount, roleChangeAnswer, roleChangeRefused, roleChangeSchema } from "./role-actions.ts";

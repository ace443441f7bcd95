/**
 * `vera-service/account`: the account module, an option of the framework. An app serves its
 * actions with one line in any file of its actions/ folder:
 *
 *   export { Register, Login, Logout, Verify, Show, Edit, Delete, Jwks } from "vera-service/account";
 *
 * (and AssignRole, RevokeRole, ListRoles for roles). What comes with them, only when they are
 * used: the `accounts` provider and its settings (JWT_*, BCRYPT_*, LOGIN_*, the length limits),
 * its tables (its migrations run after the framework's, before the app's), its guards for an
 * app's own actions (`signedIn`, `requirePermission`, `requireRole`), and `testUser` for tests.
 */
export * from "./core.ts";
export * from "./actions/index.ts";
export { testUser, type TestUser } from "./test-user.ts";

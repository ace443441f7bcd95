/**
 * What the account actions say, word for word as the README's "The account actions" quotes it.
 * Status codes are chosen by the actions through the responses helpers; the texts live here so
 * tests and README quote one source.
 */
import type { LifetimeProblem } from "./tokens.ts";

export const ACCOUNT_MESSAGES = {
  registered: "User registered successfully",
  loggedIn: "Login successful",
  revoked: "Token successfully revoked",
  identifierRequired: "At least one of username or email must be provided",
  exactlyOneIdentifier: "Exactly one identifier (username, email, or phone_number) must be provided",
  onlyOneIdentifier: "Only one identifier (username, email, or phone_number) can be provided",
  userExists: "User already exists",
  userNotFound: "User not found",
  invalidPassword: "Invalid password",
  signInAgain: "Sign-in interrupted: the account's password changed or the account was deleted meanwhile; sign in again",
  throttled: "Too many attempts, try again later",
  alreadyRevoked: "Token has already been revoked",
  invalidToken: (reason: string) => `Invalid token: ${reason}`,
  introspected: "Token introspected",
  userShown: "User found",
  forbiddenPermission: (permission: string) => `Forbidden: ${permission} required`,
  forbiddenRole: (role: string) => `Forbidden: role ${role} required`,
  forbiddenEscalation: (role: string, permission: string) => `Forbidden: role ${role} grants ${permission}, which you do not hold`,
  lastStarHolder: "Conflict: the last account holding * cannot lose it; grant a role with * to another account first",
  roleAssigned: "Role assigned",
  roleRevoked: "Role revoked",
  rolesListed: "Roles found",
  unknownUser: "User not found",
  unknownRole: "Role not found",
  roleHeld: "User already has this role",
  roleNotHeld: "User does not have this role",
  keysListed: "Public keys",
  updated: "User updated successfully",
  deleted: "User deleted successfully",
  nothingToEdit: "At least one field (username, name, email, phone_number, or password) must be provided",
  identifierTaken: "Username, email or phone number already in use",
  currentPasswordRequired: "is required to change the username, email, phone number or password",
  invalidPhone: (problem: string) => `Invalid phone number: ${problem}`,
} as const;

export const LIFETIME_MESSAGES: Record<LifetimeProblem, string> = {
  not_before_after_expiry: "Not before date must be before expiration date",
  expiry_in_past: "Expiration date must be in the future",
  expiry_beyond_maximum: "Expiration date exceeds the maximum token lifetime",
};

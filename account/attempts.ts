/**
 * What the throttle (account/throttle.ts) counts, and under which key:
 * - wrong passwords per *account*, whichever identifier (username, email, phone) or action
 *   (Login, Edit, Delete) carried them; per identifier only when it names no account, so an
 *   unknown name is throttled like a known one and the 429 tells nothing;
 * - "already exists" answers per identifier (Register, Edit), so one name cannot be probed over
 *   and over.
 * Each attempt is reserved before the work and released when it turns out not to count.
 */
import { OverloadedError } from "vera-service";
import type { LoginThrottle } from "./throttle.ts";
import { usernameSkeleton, type AccountKey, type IdentifierKind } from "./identifiers.ts";

export const THROTTLE_KEY = {
  account: (userId: number) => `account:${userId}`,
  identifier: (key: AccountKey) => `identifier:${key.kind}:${key.normalized}`,
  // Usernames by their confusable skeleton: lookalikes of one taken name share one count.
  conflict: (key: AccountKey) => `conflict:${key.kind}:${key.kind === "username" ? usernameSkeleton(key.normalized) : key.normalized}`,
} as const;

export type PasswordAttempt = "throttled" | "failed" | "passed";

/**
 * One password check under the throttle: refused while `key` holds too many failures, counted
 * when `compare` says no. A comparison refused for load (OverloadedError) does not count.
 */
export async function attemptPassword(throttle: LoginThrottle, key: string, compare: () => Promise<boolean>): Promise<PasswordAttempt> {
  const reservation = await throttle.reserve(key);
  if (reservation.throttled) return "throttled";
  let matches: boolean;
  try {
    matches = await compare();
  } catch (error) {
    if (error instanceof OverloadedError) await throttle.release(reservation.attemptId);
    throw error;
  }
  if (!matches) return "failed";
  await throttle.release(reservation.attemptId);
  return "passed";
}

/**
 * Reservations for a claim that may conflict. `settled(kind)` keeps the reservation of the
 * identifier that conflicted as a counted 409 and releases the others; `settled(undefined)`
 * releases them all. Only the name that was really taken counts: a request pairing a free name
 * with a taken one must not lock the free one.
 */
export type ConflictAttempt = { throttled: true } | { throttled: false; settled(conflicted: IdentifierKind | undefined): Promise<void> };

/**
 * Reserves one "already exists" attempt per identifier about to be claimed. Throttled when any
 * of them has answered 409 too often lately; otherwise the caller reports how the claim went.
 */
export async function attemptClaim(throttle: LoginThrottle, keys: AccountKey[]): Promise<ConflictAttempt> {
  const reserved: Array<{ kind: IdentifierKind; attemptId: string }> = [];
  const release = (keep?: IdentifierKind) =>
    Promise.all(reserved.filter((r) => r.kind !== keep).map((r) => throttle.release(r.attemptId))).then(() => undefined);
  for (const key of keys) {
    const reservation = await throttle.reserve(THROTTLE_KEY.conflict(key));
    if (reservation.throttled) {
      await release();
      return { throttled: true };
    }
    reserved.push({ kind: key.kind, attemptId: reservation.attemptId });
  }
  return { throttled: false, settled: (conflicted) => release(conflicted) };
}

/**
 * The account module's domain events (user.registered, login.success, role.assigned …) are the
 * framework's: written to its outbox in the transaction of the change, never holding a password,
 * a digest, a token or a JWT (tests/account-events.test.ts).
 */
export { envelopeOf, recordEvent, type DomainEvent, type Envelope } from "vera-service";

/** The account module's help for tests of guarded actions (with vera-service/testing's kit). */
export { testUser, type TestUser } from "./test-user.ts";

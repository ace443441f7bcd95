/**
 * This repository's own service is the account service: the account module's actions, served as
 * any app serves them, by one line.
 */
export { Register, Login, Logout, Verify, Show, Edit, Delete, Jwks, AssignRole, RevokeRole, ListRoles } from "vera-service/account";

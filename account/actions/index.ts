/**
 * The account actions. An app serves them by re-exporting them from any file of its actions/
 * folder (the registry serves every action class a file exports):
 *
 *   export { Register, Login, Logout, Verify, Show, Edit, Delete, Jwks, AssignRole, RevokeRole, ListRoles } from "vera-service/account";
 */
export { Register } from "./Register.ts";
export { Login } from "./Login.ts";
export { Logout } from "./Logout.ts";
export { Verify } from "./Verify.ts";
export { Show } from "./Show.ts";
export { Edit } from "./Edit.ts";
export { Delete } from "./Delete.ts";
export { Jwks } from "./Jwks.ts";
export { AssignRole } from "./AssignRole.ts";
export { RevokeRole } from "./RevokeRole.ts";
export { ListRoles } from "./ListRoles.ts";

/**
 * The account module's provider: what its actions and its sign-in guard read with
 * `ctx.get(accounts)` — the repositories, the password pool and the token keys. The app
 * supplies it (src/services.ts createServices) when a loaded action needs it; an app without
 * account actions never builds it, so never opens the database for it.
 */
import { provider } from "../providers.ts";
import type { Services } from "../services.ts";

export type Accounts = Services;

export const accounts = provider<Accounts>({
  name: "accounts",
  start() {
    throw new Error("the accounts provider is supplied by the app (src/app.ts), not started on its own");
  },
});

/**
 * What every action can reach through ctx.services. main.ts builds one instance at start-up.
 */
import type { Config } from "./config.ts";

export interface Services {
  config: Readonly<Config>;
}

/** Every plugboard event this consumer handles; the client wires them to the channel. */
import joinReply from "./join_reply.ts";
import request from "./request.ts";
import numConsumers from "./num_consumers.ts";
import serviceUpdated from "./service_updated.ts";
import serviceDeleted from "./service_deleted.ts";
import tokenCreated from "./token_created.ts";
import tokenDeleted from "./token_deleted.ts";
import type { EventHandler } from "../event-handler.ts";

export const handlers: readonly EventHandler[] = [
  joinReply,
  request,
  numConsumers,
  serviceUpdated,
  serviceDeleted,
  tokenCreated,
  tokenDeleted,
];

/**
 * What the consumer knows of the plugboard: its service, its token's metadata (never the
 * token value) and how many consumers are joined. Filled by the handlers in events/.
 */
import { z } from "zod/v4";

export const serviceSchema = z
  .object({
    id: z.union([z.string(), z.number()]).transform(String),
    name: z.string().optional(),
    inserted_at: z.string().optional(),
    updated_at: z.string().optional(),
  })
  .passthrough();

/** Token metadata; `value` is stripped by the schema, so it can never reach the state or a log. */
export const tokenMetaSchema = z
  .object({
    id: z.union([z.string(), z.number()]).transform(String),
    context: z.string().nullish(),
    service_id: z.union([z.string(), z.number()]).transform(String).nullish(),
    inserted_at: z.string().nullish(),
    expires_at: z.string().nullish(),
  })
  .strip();

export type ServiceInfo = z.infer<typeof serviceSchema>;
export type TokenMeta = z.infer<typeof tokenMetaSchema>;

export class PlugboardState {
  service: ServiceInfo | undefined;
  token: TokenMeta | undefined;
  numConsumers: number | undefined;
  /** Tokens the plugboard told us about (token_created / token_deleted), by id. */
  readonly tokens = new Map<string, TokenMeta>();

  isOurService(id: string): boolean {
    return this.service !== undefined && this.service.id === id;
  }
}

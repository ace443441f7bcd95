/**
 * The dedicated PostgreSQL session of the relay (src/domain-events/relay.ts) and of the PostgreSQL
 * subscribers (src/domain-events/log-subscribers.ts): a connection of their own, because LISTEN and
 * a session's advisory lock live with one connection, which a pool would hand around.
 */
import pg from "pg";

/** Connects and LISTENs on `channel`; `onNotify` runs on each notification. */
export async function listeningSession(databaseUrl: string, channel: string, onNotify: () => void): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on("error", () => undefined); // a lost connection shows in the next query
  client.on("notification", onNotify);
  await client.connect();
  await client.query(`listen ${channel}`);
  return client;
}

/** Runs `work` in a transaction on `client`: committed when it returns, rolled back when it throws. */
export async function inTransaction<T>(client: pg.Client, work: () => Promise<T>): Promise<T> {
  await client.query("begin");
  try {
    const result = await work();
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => undefined);
    throw error;
  }
}

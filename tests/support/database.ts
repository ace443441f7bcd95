/**
 * Placeholder until the PostgreSQL harness lands: no database.
 */
export interface TestDatabase {
  description: string;
  /** Environment handed to the test processes (e.g. TEST_DATABASE_URL). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startTestDatabase(): Promise<TestDatabase> {
  return { description: "none", env: {}, stop: async () => undefined };
}

/**
 * Dev plugboards, and test consumers joined to them, that a test file starts: call boardKit()
 * at the top of the file and everything it started is stopped after the file's tests.
 */
import { after } from "node:test";
import { DevPlugboard, type DevPlugboardOptions } from "../../src/devboard/server.ts";
import { startConsumer, type TestConsumer } from "./consumer.ts";

export function boardKit() {
  const boards: DevPlugboard[] = [];
  const consumers: TestConsumer[] = [];
  after(async () => {
    await Promise.all(consumers.map((c) => c.stop().catch(() => undefined)));
    await Promise.all(boards.map((b) => b.stop().catch(() => undefined)));
  });

  async function startBoard(options: DevPlugboardOptions = {}): Promise<DevPlugboard> {
    const board = await DevPlugboard.start({ port: 0, ...options });
    boards.push(board);
    return board;
  }

  /** A board with a test consumer (tests/fixtures/actions unless told otherwise) joined. */
  async function boardWithConsumer(
    options: DevPlugboardOptions = {},
    consumer: Partial<Parameters<typeof startConsumer>[0]> = {},
  ): Promise<DevPlugboard> {
    const board = await startBoard(options);
    const joined = board.waitFor("join");
    consumers.push(await startConsumer({ url: board.socketUrl, token: board.token, ...consumer }));
    await joined;
    return board;
  }

  return { startBoard, boardWithConsumer, consumers };
}

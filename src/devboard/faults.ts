/**
 * The dev plugboard's fault injection, for tests and the soak: what a real plugboard or network
 * does now and then (pushes the consumer must cope with, undecodable frames, a crashed channel,
 * dropped sockets, unanswered heartbeats). Reached as `board.faults`; the board serves without it.
 */
import type { ConsumerConnection } from "./connection.ts";
import type { RequestRouter } from "./router.ts";

/** What the faults need of the board. */
export interface FaultTarget {
  /** Every connected consumer, or the one with this id (throws when it is not connected). */
  select(consumerId: string | undefined): ConsumerConnection[];
  /** Whether heartbeats get their reply. */
  answerHeartbeats(enabled: boolean): void;
  /** The request routers of the hosted services. */
  routers(): RequestRouter[];
}

export class DevPlugboardFaults {
  constructor(private readonly board: FaultTarget) {}

  /** Pushes any event on `service` to the joined consumers (or one); returns how many got it. */
  push(event: string, payload: unknown, consumerId?: string): number {
    const targets = this.board.select(consumerId).filter((c) => c.joined);
    for (const consumer of targets) consumer.push(event, payload);
    return targets.length;
  }

  /** Sends a text frame verbatim to every connected consumer (or one); returns how many got it. */
  sendRaw(text: string, consumerId?: string): number {
    const targets = this.board.select(consumerId);
    for (const consumer of targets) consumer.sendText(text);
    return targets.length;
  }

  /** Kills the `service` channel of the joined consumers (or one): phx_error, topic unjoined. */
  crashChannel(consumerId?: string): number {
    const targets = this.board.select(consumerId).filter((c) => c.joined);
    for (const consumer of targets) consumer.crash();
    return targets.length;
  }

  /** Cuts every consumer socket without a close frame; settles once the board saw them close. */
  async dropSockets(): Promise<number> {
    const targets = this.board.select(undefined);
    for (const consumer of targets) consumer.terminate();
    await Promise.all(targets.map((c) => c.closed));
    return targets.length;
  }

  /** With false, heartbeats go unanswered, as on a dead or stalled server. */
  setHeartbeatReplies(enabled: boolean): void {
    this.board.answerHeartbeats(enabled);
  }

  /**
   * The Vera Plugboard's registration race (src/devboard/router.ts RouterFaults): each waiting
   * caller is registered `ms` after its request was pushed; an answer sooner is dropped (0: off).
   */
  registerCallersAfter(ms: number): void {
    for (const router of this.board.routers()) router.faults.registrationDelayMs = ms;
  }

  /** The Vera Plugboard's round-robin defect: after a consumer leaves, a request can be thrown away. */
  keepStaleRoundRobin(enabled: boolean): void {
    for (const router of this.board.routers()) router.faults.staleRoundRobin = enabled;
  }

  /** Calls the faults above have lost so far, over every hosted service. */
  get lost(): { answeredTooSoon: number; pastTheEnd: number } {
    const routers = this.board.routers();
    return {
      answeredTooSoon: routers.reduce((n, r) => n + r.lost.answeredTooSoon, 0),
      pastTheEnd: routers.reduce((n, r) => n + r.lost.pastTheEnd, 0),
    };
  }
}

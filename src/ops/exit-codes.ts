/** How a vera-service process ends, for operators and their supervisors (README "Operations"). */
export const EXIT_CODE = {
  /** A graceful stop: drained, every routed request answered. */
  ok: 0,
  /** A start that failed, or a forced stop (the shutdown deadline, a second signal). */
  failed: 1,
  /** A bad configuration: one log line per problem, before anything connects. */
  config: 2,
  /** A command-line tool given an option or argument it does not know: its usage, nothing done. */
  usage: 2,
  /** The plugboard deleted this service: nothing left to serve. */
  serviceDeleted: 3,
} as const;

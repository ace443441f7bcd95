/** The PostgreSQL NOTIFY channel on which committed events wake the relay (src/migrations/0002_events_notify.ts, src/domain-events/relay.ts). */
export const EVENTS_CHANNEL = "vera_events";

/** The channel on which the relay announces events it published to PostgreSQL (src/domain-events/log-sink.ts): it wakes their subscribers. */
export const PUBLISHED_CHANNEL = "vera_events_published";

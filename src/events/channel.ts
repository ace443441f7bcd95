/** The PostgreSQL NOTIFY channel on which committed events wake the relay (migrations/0006_events_notify.ts, src/events/relay.ts). */
export const EVENTS_CHANNEL = "vera_events";

/** The channel on which the relay announces events it published to PostgreSQL (src/events/log-sink.ts): it wakes their subscribers. */
export const PUBLISHED_CHANNEL = "vera_events_published";

/** The PostgreSQL NOTIFY channel on which committed events wake the relay (migrations/0006_events_notify.ts, src/events/relay.ts). */
export const EVENTS_CHANNEL = "vera_events";

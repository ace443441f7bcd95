/**
 * The baseline: a bare `ws` client that joins like a consumer and answers every request frame
 * with a fixed payload (ANSWER, by default the 401 a Logout with a bad token gets), with no
 * framework at all. The benchmark compares the consumer to it. Configured through the
 * environment: WEBSOCKET_URL, TOKEN, ACTIONS and ANSWER (JSON texts).
 */
import WebSocket from "ws";

const url = new URL(process.env.WEBSOCKET_URL!);
url.searchParams.set("token", process.env.TOKEN!);
url.searchParams.set("actions", process.env.ACTIONS ?? "{}");
url.searchParams.set("vsn", "2.0.0");

const answer: unknown = JSON.parse(process.env.ANSWER ?? '{"status":"error","status_code":401,"message":"Invalid token: jwt malformed","fields":null}');
const socket = new WebSocket(url);
let ref = 0;
const JOIN_REF = "1";

socket.on("open", () => {
  socket.send(JSON.stringify([JOIN_REF, String(++ref), "service", "phx_join", {}]));
  setInterval(() => socket.send(JSON.stringify([null, String(++ref), "phoenix", "heartbeat", {}])), 30_000).unref();
});
socket.on("message", (data) => {
  const [, , , event, payload] = JSON.parse(data.toString()) as [string, string, string, string, { response_ref: string; status?: string }];
  if (event === "request") socket.send(JSON.stringify([JOIN_REF, payload.response_ref, "service", "response", answer]));
  else if (event === "phx_reply" && payload.status === "ok" && process.send) process.send("joined");
});
socket.on("close", () => process.exit(0));
process.on("SIGTERM", () => socket.close());

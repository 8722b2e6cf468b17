// The Node side of the rollcall benchmarks (bench/compare.sh): socket.io 4.8
// with its default options (transports polling + websocket, upgrades on,
// perMessageDeflate off, pingInterval 25 s, pingTimeout 20 s,
// maxHttpBufferSize 1e6, no CORS) and the "bench" behaviour every server
// under test implements:
//
//   - the CONNECT auth token is the user id ({"token": "u42"});
//   - every socket joins the rooms `user:<id>` and `all`;
//   - `bcast` (data)      -> io.to("all").emit("msg", data)  (sender included);
//   - `echo` (data, ack)  -> ack(data).
//
//   node server.mjs [--port PORT] [--host HOST] [--redis URL] [--key KEY]
//     (PORT env also works; 0 = free port). With --redis: the classic
//     @socket.io/redis-adapter 8 on that Redis (channel prefix KEY, default
//     "socket.io"), as a cluster of Node servers runs; no presence.
//
// Prints "listening <port>" once it accepts connections; exits on SIGTERM/SIGINT.
import { createServer } from "node:http";
import { Server } from "socket.io";

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = arg("--host", process.env.HOST ?? "127.0.0.1");
const port = Number(arg("--port", process.env.PORT ?? "3000"));
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`bad port: ${port}`);
  process.exit(2);
}

const httpServer = createServer();
const io = new Server(httpServer); // defaults only

const redisUrl = arg("--redis", "");
if (redisUrl) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub, { key: arg("--key", "socket.io") }));
}

io.on("connection", (socket) => {
  const token = socket.handshake.auth?.token;
  const id = typeof token === "string" || typeof token === "number" ? String(token) : "";
  socket.join([`user:${id}`, "all"]);
  socket.on("bcast", (data) => {
    io.to("all").emit("msg", data);
  });
  socket.on("echo", (...args) => {
    // (data, ack) -> ack(data); any number of data arguments are echoed back
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
});

// The same accept backlog as the C and C++ servers (SOMAXCONN = 4096 on
// Debian 12) instead of Node's 511, so a connect burst is not throttled by
// SYN retransmits on one side only.
httpServer.listen({ host, port, backlog: 4096 }, () => {
  console.log(`listening ${httpServer.address().port}`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  io.close(); // disconnects every socket and closes the HTTP server
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

// A Node socket.io 4.8 server with the classic @socket.io/redis-adapter 8,
// serving the same test events as rollcall-interop-server (join, to-rooms,
// except, fetch, ask-room, ask-servers, set-data, disconnect-room, and the
// server-side event "who"), so the cluster tests can treat Node and
// rollcall nodes alike.
//
//   node lib/node-peer.mjs --redis redis://127.0.0.1:6379/0 --key socket.io
//
// Prints "listening <port>" once it accepts connections (127.0.0.1, a free
// port); exits on SIGTERM.
import { createServer } from "node:http";

import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const pub = createClient({ url: arg("--redis", "redis://127.0.0.1:6379/0") });
const sub = pub.duplicate();
pub.on("error", (err) => console.error("redis pub:", err.message));
sub.on("error", (err) => console.error("redis sub:", err.message));
await Promise.all([pub.connect(), sub.connect()]);

const httpServer = createServer();
const io = new Server(httpServer, {
  adapter: createAdapter(pub, sub, { key: arg("--key", "socket.io"), requestsTimeout: 2000 }),
});

io.on("who", (asked, ack) => {
  if (typeof ack === "function") ack({ port: httpServer.address().port, asked, node: true });
});

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack?.([...socket.rooms].sort());
  });
  socket.on("to-rooms", (rooms, event, ...rest) => {
    const ack = typeof rest[rest.length - 1] === "function" ? rest.pop() : null;
    io.to(rooms).emit(event, ...rest);
    ack?.();
  });
  socket.on("except", (room, except, event, ...rest) => {
    const ack = typeof rest[rest.length - 1] === "function" ? rest.pop() : null;
    io.to(room).except(except).emit(event, ...rest);
    ack?.();
  });
  socket.on("fetch", async (room, ack) => {
    const op = typeof room === "string" ? io.in(room) : io;
    const sockets = await op.fetchSockets();
    ack?.(
      sockets
        .map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data, handshake: s.handshake }))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    );
  });
  socket.on("ask-room", async (room, timeout, ack) => {
    try {
      const responses = await io.to(room).timeout(timeout).emitWithAck("ask", "question");
      ack?.({ timedOut: false, responses });
    } catch (err) {
      ack?.({ timedOut: true, responses: err.responses ?? [] });
    }
  });
  socket.on("ask-servers", async (asked, ack) => {
    try {
      // (the adapter's requestsTimeout, 2 s, bounds it)
      const responses = await io.serverSideEmitWithAck("who", asked);
      ack?.({ timedOut: false, responses });
    } catch (err) {
      ack?.({ timedOut: true, responses: err.responses ?? [], error: String(err.message) });
    }
  });
  socket.on("set-data", (data, ack) => {
    socket.data = data;
    ack?.();
  });
  socket.on("disconnect-room", (room, ack) => {
    io.in(room).disconnectSockets(false);
    ack?.();
  });
  socket.on("all-rooms", async (ack) => {
    ack?.([...(await io.of("/").adapter.allRooms())].sort());
  });
  socket.on("join-room-everywhere", (target, room, ack) => {
    io.in(target).socketsJoin(room);
    ack?.();
  });
});

httpServer.listen({ host: "127.0.0.1", port: 0 }, () => {
  console.log(`listening ${httpServer.address().port}`);
});

function stop() {
  io.close();
  Promise.allSettled([pub.quit(), sub.quit()]).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

// A TCP load balancer for tests: each new connection goes to the first
// backend (in order) that accepts it, its bytes copied both ways. When a
// node stops accepting (SIGTERM), new connections land on the next one:
// what a real balancer's health check does, at connection granularity.
//
//   const lb = await startBalancer([a.port, b.port]);   // lb.url, lb.close()
import net from "node:net";

import { withDeadline } from "./util.mjs";

export async function startBalancer(ports) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    client.pause();
    const tryBackend = (i) => {
      if (i >= ports.length) return client.destroy();
      const upstream = net.createConnection({ host: "127.0.0.1", port: ports[i] });
      upstream.once("error", () => {
        upstream.destroy();
        if (!upstream.connectedOnce) tryBackend(i + 1);
        else client.destroy();
      });
      upstream.once("connect", () => {
        upstream.connectedOnce = true;
        sockets.add(upstream);
        upstream.on("close", () => {
          sockets.delete(upstream);
          client.destroy();
        });
        client.on("close", () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    tryBackend(0);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await withDeadline(new Promise((resolve) => server.close(resolve)), 5000, "the balancer to close");
    },
  };
}

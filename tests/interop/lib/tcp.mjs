// Kernel-side views of loopback TCP connections (Linux /proc), for tests
// that must know what the server's end of a connection holds.
import fs from "node:fs";

/**
 * The server's end of the TCP connection whose client side is local port
 * `clientPort` (from /proc/net/tcp{,6}): { state, txQueue, rxQueue }, or
 * null once the kernel forgot it (closed and reset).
 */
export function serverSocket(serverPort, clientPort) {
  const hex = (p) => p.toString(16).toUpperCase().padStart(4, "0");
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 5) continue;
      if (f[1].endsWith(`:${hex(serverPort)}`) && f[2].endsWith(`:${hex(clientPort)}`)) {
        const [tx, rx] = f[4].split(":").map((x) => parseInt(x, 16));
        return { state: f[3], txQueue: tx, rxQueue: rx };
      }
    }
  }
  return null;
}

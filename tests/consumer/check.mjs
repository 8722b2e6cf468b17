// Starts the consumer program (argv[2]), connects with socket.io-client,
// expects its greeting and an echo through an ack, then stops it with
// SIGTERM and expects a clean exit. With argv[3] "auth" (the program built
// with the identity middleware) a connection without a token must be
// refused with connect_error data.code "auth_required" instead. Every wait
// has a deadline. With argv[3] "notify" (built against rollcall::notify),
// "notify-me" must bring back a "notification" event.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../interop/package.json"));
const { io } = require("socket.io-client");

const deadline = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref());

const proc = spawn(process.argv[2], [], { stdio: ["ignore", "pipe", "inherit"] });
const exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
try {
  const port = await Promise.race([
    new Promise((resolve) => {
      let out = "";
      proc.stdout.on("data", (d) => {
        out += d;
        const m = /listening (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
    }),
    exited.then((e) => Promise.reject(new Error(`consumer exited before listening: ${JSON.stringify(e)}`))),
    deadline(10000, "consumer to print listening <port>"),
  ]);
  const socket = io(`http://127.0.0.1:${port}`, { forceNew: true, reconnection: false });
  if (process.argv[3] === "auth") {
    const err = await Promise.race([
      new Promise((resolve) => socket.once("connect_error", resolve)),
      new Promise((_, reject) => socket.once("connect", () => reject(new Error("connected without a token")))),
      deadline(10000, "connect_error without a token"),
    ]);
    if (err?.data?.code !== "auth_required") throw new Error(`connect_error: ${err?.message} ${JSON.stringify(err?.data)}`);
    socket.close();
    proc.kill("SIGTERM");
    const end = await Promise.race([exited, deadline(10000, "consumer to exit after SIGTERM")]);
    if (end.code !== 0) throw new Error(`consumer exit: ${JSON.stringify(end)}`);
    console.log("consumer (auth): refused without a token, stopped cleanly");
    process.exit(0);
  }
  const hello = await Promise.race([
    new Promise((resolve) => socket.once("hello", resolve)),
    new Promise((_, reject) => socket.once("connect_error", reject)),
    deadline(10000, "the hello event"),
  ]);
  if (hello !== "from an installed rollcall") throw new Error(`hello: ${JSON.stringify(hello)}`);
  const reply = await Promise.race([socket.timeout(5000).emitWithAck("echo", { n: 1 }, "two"), deadline(6000, "echo ack")]);
  if (JSON.stringify(reply) !== JSON.stringify({ n: 1 })) throw new Error(`echo ack: ${JSON.stringify(reply)}`);
  if (process.argv[3] === "notify") {
    const got = new Promise((resolve) => socket.once("notification", resolve));
    socket.emit("notify-me");
    const n = await Promise.race([got, deadline(10000, "the notification")]);
    if (n?.type !== "consumer.test" || n?.data !== "from an installed rollcall" || n?.read !== false) {
      throw new Error(`notification: ${JSON.stringify(n)}`);
    }
  }
  socket.close();
  proc.kill("SIGTERM");
  const end = await Promise.race([exited, deadline(10000, "consumer to exit after SIGTERM")]);
  if (end.code !== 0) throw new Error(`consumer exit: ${JSON.stringify(end)}`);
  console.log("consumer: connected, greeted, echoed, stopped cleanly");
} catch (err) {
  proc.kill("SIGKILL");
  console.error(String(err?.stack ?? err));
  process.exit(1);
}

// A small chat server on the rollcall C++ API, written the way a Node
// socket.io user would write it. Run: rollcall-example [port]
#include <rollcall/server.hpp>

#include <csignal>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  std::uint16_t port = argc > 1 ? static_cast<std::uint16_t>(std::stoi(argv[1])) : 3000;
  rollcall::ServerOptions options;
  options.threads = 2;
  options.cors.origins = {"*"};
  rollcall::Server io(options);

  // Middleware: require a nickname in the CONNECT auth payload.
  io.use([](rollcall::Socket& socket, rollcall::Next next) {
    auto* nick = socket.auth().if_contains("nick");
    if (!nick || !nick->is_string() || nick->as_string().empty()) {
      next(rollcall::ConnectError{"a nick is required", nullptr});
      return;
    }
    socket.data()["nick"] = *nick;
    next(std::nullopt);
  });

  io.on_connection([&io](rollcall::Socket& socket) {
    socket.join("lobby");
    socket.to("lobby").emit("joined", rollcall::Args::of(socket.data()["nick"]));

    // socket.on("say", (text, ack) => { ... })
    socket.on("say", [&socket](rollcall::Args args, rollcall::Ack ack) {
      boost::json::object msg;
      msg["from"] = socket.data()["nick"];
      msg["text"] = args.empty() ? boost::json::value("") : args[0];
      socket.to("lobby").emit("said", rollcall::Args::of(msg));
      if (ack) ack(rollcall::Args::of("delivered"));
    });

    // Ask the client something and wait for its answer (with a timeout).
    socket.emit_with_ack("ping?", {}, rollcall::Millis(5000),
                         [](std::error_code ec, rollcall::Args reply) {
                           if (ec) std::printf("no answer: %s\n", ec.message().c_str());
                           else std::printf("client answered with %zu args\n", reply.size());
                         });

    socket.on_disconnect([&io](rollcall::Socket& s, const std::string& reason) {
      io.to("lobby").emit("left", rollcall::Args::of(s.data()["nick"], reason));
    });
  });

  io.listen("127.0.0.1", port);
  std::printf("chat example on http://127.0.0.1:%u/socket.io/\n", static_cast<unsigned>(io.port()));
  io.run();
}

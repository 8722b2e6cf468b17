#include "app/modes.hpp"

namespace rollcall::app {

std::unique_ptr<Server> make_conformance_server(unsigned threads) {
  ServerOptions o;
  o.threads = threads;
  o.path = "/socket.io/";
  o.ping_interval = Millis(300);
  o.ping_timeout = Millis(200);
  o.max_payload = 1000000;
  o.connect_timeout = Millis(1000);
  o.cors.origins = {"*"};
  o.presence.enabled = false;  // no identities in the suites
  auto server = std::make_unique<Server>(o);
  server->add_engine_echo("/engine.io/", o);

  auto on_connect = [](Socket& socket) {
    socket.emit("auth", Args::of(socket.auth()));
  };
  server->of("/").on_connection([on_connect](Socket& socket) {
    on_connect(socket);
    socket.on("message", [&socket](Args args, Ack) { socket.emit("message-back", std::move(args)); });
    socket.on("message-with-ack", [](Args args, Ack ack) {
      if (ack) ack(std::move(args));
    });
  });
  server->of("/custom").on_connection(on_connect);
  return server;
}

}  // namespace rollcall::app

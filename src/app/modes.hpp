// Built-in handler sets of rollcalld.
#pragma once

#include <rollcall/server.hpp>

#include <memory>

namespace rollcall::app {

// The handlers the official protocol suites (socketio/engine.io-protocol and
// socketio/socket.io-protocol, folder test-suite/) expect: an Engine.IO echo
// endpoint at /engine.io/ and Socket.IO at /socket.io/ with "/" and "/custom".
std::unique_ptr<Server> make_conformance_server(unsigned threads);

// Handlers of a plain `rollcalld`. For now it accepts connections on "/";
// identity, presence and notifications plug in here.
void install_default_handlers(Server& server);

}  // namespace rollcall::app

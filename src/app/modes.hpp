// Built-in handler sets of rollcalld.
#pragma once

#include <rollcall/server.hpp>

#include <memory>

namespace rollcall::app {

// The handlers the official protocol suites (socketio/engine.io-protocol and
// socketio/socket.io-protocol, folder test-suite/) expect: an Engine.IO echo
// endpoint at /engine.io/ and Socket.IO at /socket.io/ with "/" and "/custom".
std::unique_ptr<Server> make_conformance_server(unsigned threads);


}  // namespace rollcall::app

// The event loops as Asio executors, for code that does its own I/O on a
// socket's loop (an async middleware's database lookup, a timer, ...).
// Kept out of server.hpp so that the rest of the API needs no Asio.
#pragma once

#include <rollcall/server.hpp>

#include <boost/asio/any_io_executor.hpp>

namespace rollcall {

// The executor of the loop `socket` lives on (Socket::loop_index): work
// posted to it, and the completions of I/O objects made with it, run on
// that loop's thread, where the socket's methods and a middleware's `next`
// may be called. Valid as long as the Server is.
boost::asio::any_io_executor executor(const Socket& socket);

}  // namespace rollcall

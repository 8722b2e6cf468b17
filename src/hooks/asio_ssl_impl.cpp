// Separate compilation of Asio's SSL support (the library is built with
// BOOST_ASIO_SEPARATE_COMPILATION; src/common/asio_impl.cpp compiles the rest
// of Asio and Beast). This file must be the only one in the library that
// includes the SSL implementation: move it into src/common/asio_impl.cpp if
// another part of rollcall needs TLS.
#include <boost/asio/ssl/impl/src.hpp>

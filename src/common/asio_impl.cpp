// Separate compilation of Asio and Beast: their implementation is compiled
// once here instead of in every translation unit that uses them.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>

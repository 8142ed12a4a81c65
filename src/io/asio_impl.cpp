// The one translation unit that compiles Asio, Asio's SSL layer and Beast (separate compilation).
// Everything else includes their headers only; see BOOST_*_SEPARATE_COMPILATION in CMakeLists.txt.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>

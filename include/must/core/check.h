// Errors and MUST_CHECK.
//
// Exceptions are for real errors only and are caught once, in each tool's main (must::app::run_tool):
//   must::Error        a runtime failure (missing file, bad record, diverged training)   -> exit 1
//   must::ConfigError  the user asked for something invalid (flag, config key, value)   -> exit 2
// Messages name what was wrong: the file, key or record, and the offending value.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace must {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ConfigError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

}  // namespace must

// MUST_CHECK(cond, "what was expected, got ", value) throws must::Error with the parts streamed together.
#define MUST_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) throw ::must::Error(::must::detail::concat(__VA_ARGS__));     \
  } while (false)

// MUST_THROW(ErrorType, parts...) always throws.
#define MUST_THROW(ErrorType, ...) throw ErrorType(::must::detail::concat(__VA_ARGS__))

// Small string helpers shared by the config system and the registries.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace must {

// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `name`, or "" when none is plausibly a misspelling of it.
std::string nearest_name(std::string_view name, const std::vector<std::string>& candidates);

// C++20's string_view::starts_with / ends_with.
inline bool starts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}
inline bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "a, b, c"
std::string join(const std::vector<std::string>& parts, std::string_view separator = ", ");

// Splits "a.b.c" into {"a", "b", "c"}; empty parts are kept so callers can reject them.
std::vector<std::string> split(std::string_view text, char separator);

// `text` safe to print on a terminal: valid UTF-8 other than control characters as it is, every other byte as
// \xNN. For messages that quote a damaged file's bytes (a JSON parser's "last read: ...").
std::string printable(std::string_view text);

}  // namespace must

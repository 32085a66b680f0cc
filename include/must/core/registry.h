// A name -> factory registry, one per family (backbones, heads, losses, weightings, datasets, shapes...).
//
// Each family's registry is a function-local static that adds its built-in entries when first used
// (`shape_registry()`, `head_registry()`, ...). Static self-registration from other translation units is not
// used: static linking silently drops it.
//
//   Registry<std::unique_ptr<Shape>, const ShapeParams&> shapes("shape");
//   shapes.add("sphere", [](const ShapeParams& p) { return std::make_unique<Sphere>(p); });
//   auto s = shapes.create("sphere", params);   // an unknown name throws, listing the known ones
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "must/core/check.h"
#include "must/core/strings.h"

namespace must {

template <class Product, class... Args>
class Registry {
 public:
  using Factory = std::function<Product(Args...)>;

  // `family` names what is registered ("backbone"), for error messages.
  explicit Registry(std::string family) : family_(std::move(family)) {}

  // Registering a name twice is a programming error.
  void add(const std::string& name, Factory factory) {
    MUST_CHECK(!factories_.count(name), family_, " '", name, "' is registered twice");
    factories_.emplace(name, std::move(factory));
  }

  bool contains(const std::string& name) const { return factories_.count(name) != 0; }

  // Sorted, for stable error messages and --help listings.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : factories_) out.push_back(entry.first);
    return out;
  }

  // Throws must::ConfigError naming the known entries when `name` is not registered.
  Product create(const std::string& name, Args... args) const {
    auto it = factories_.find(name);
    if (it == factories_.end()) {
      const std::string hint = nearest_name(name, names());
      MUST_THROW(ConfigError, "unknown ", family_, " '", name, "'",
                 hint.empty() ? "" : " (did you mean '" + hint + "'?)", "; known: ", join(names()));
    }
    return it->second(std::forward<Args>(args)...);
  }

 private:
  std::string family_;
  std::map<std::string, Factory> factories_;
};

}  // namespace must

#include "flop_counter.h"

#include <ATen/record_function.h>

#include <atomic>
#include <cstring>

namespace must::bench {
namespace {

std::atomic<int64_t> g_flops{0};

int64_t numel_of(const at::Tensor& t) { return t.defined() ? t.numel() : 0; }

void count(const at::RecordFunction& fn, at::ObserverContext*) {
  const char* name = fn.name();
  const auto inputs = fn.inputs();
  const auto outputs = fn.outputs();
  if (std::strcmp(name, "aten::convolution") == 0 && inputs.size() >= 2 && !outputs.empty()) {
    const at::Tensor weight = inputs[1].toTensor();
    // Each output element takes (C_in / groups) * kh * kw multiply-accumulates.
    g_flops += 2 * numel_of(outputs[0].toTensor()) * (weight.numel() / weight.size(0));
  } else if ((std::strcmp(name, "aten::addmm") == 0 || std::strcmp(name, "aten::mm") == 0) && !outputs.empty()) {
    const at::Tensor a = inputs[std::strcmp(name, "aten::addmm") == 0 ? 1 : 0].toTensor();
    g_flops += 2 * numel_of(outputs[0].toTensor()) * a.size(-1);
  }
}

}  // namespace

FlopCounter::FlopCounter() {
  g_flops = 0;
  handle_ = at::addThreadLocalCallback(
      at::RecordFunctionCallback([](const at::RecordFunction&) -> std::unique_ptr<at::ObserverContext> { return nullptr; },
                                 count)
          .needsInputs(true)
          .needsOutputs(true));
}

FlopCounter::~FlopCounter() { at::removeCallback(handle_); }

int64_t FlopCounter::flops() const { return g_flops.load(); }

}  // namespace must::bench

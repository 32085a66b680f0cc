// Cross-entropy of bilinearly upsampled logits, without forming them (task_losses.h, cross_entropy_upsampled).
//
// Why: a segmentation head predicts at stride 4 and its logits are upsampled to the input before the loss, as in
// the paper and the peers. For 150 classes at 224x224 and batch 8 that full-resolution map, its log-softmax and
// their gradients are 4 x 240 MB, and forward + backward of upsample + log_softmax + NLL took 0.74 s of a 9.3 s
// ResNet-50-FPN training step on 2 cores (measured: bench_model --profile, bench/peers/peer_model.py).
//
// How: pixel by pixel over the full-resolution grid, channels innermost (an NHWC copy of the logits). For each
// output row the two source rows are blended once (R = wy0 L[y0] + wy1 L[y1]); each labelled pixel blends two
// columns of R into its C logits z, and adds logsumexp(z) - z[label]. The backward pass recomputes z from the
// saved log-sum-exp, forms (softmax(z) - onehot(label)) / count, and applies the transposed blend: into a row
// buffer, then into the two source rows of an NHWC gradient. Images run in parallel (each owns its gradient).
// The weights are ATen's for align_corners = false (UpSampleKernel.cpp), so the result equals
// cross_entropy_map(upsample_bilinear2d(logits), ...) to float rounding.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/generated/variable_factories.h>

#include <cmath>
#include <limits>
#include <vector>

#include "must/core/check.h"
#include "must/core/cpu_kernel.h"
#include "must/losses/task_losses.h"

namespace must::losses {
namespace {

// e^x for x <= 0: Cephes' expf (x = n ln 2 + r, |r| <= ln2 / 2, a degree-5 polynomial in r; ~1 ulp). Below -87
// it gives ~1e-38 rather than 0, which is nothing beside a softmax's largest term, e^0.
MUST_KERNEL_INLINE float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  const int32_t n = int32_t(x * 1.44269504088896341f - 0.5f);  // round to nearest, for x <= 0
  const float fn = float(n);
  const float r = x - fn * 0.693359375f + fn * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float two_to_n = __builtin_bit_cast(float, (n + 127) << 23);
  return (p * r * r + r + 1.0f) * two_to_n;
}

// out += a * w, n values.
MUST_KERNEL_INLINE void add_scaled(float* out, const float* a, float w, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] += a[i] * w;
}

// z = the pixel's logits (a blend of two columns of the row buffer); returns their maximum. z has room for C
// rounded up to kLanes, the tail filled with -inf so that whole lanes can be reduced.
MUST_KERNEL_INLINE float pixel_logits(float* z, const float* row, const LinearTap& column, int64_t channels) {
  blend(z, row + column.first * channels, column.first_weight, row + column.second * channels, column.second_weight,
        channels);
  float lane_max[kLanes];
  for (int k = 0; k < kLanes; ++k) lane_max[k] = -std::numeric_limits<float>::infinity();
  const int64_t padded = (channels + kLanes - 1) / kLanes * kLanes;
  for (int64_t c = 0; c < padded; c += kLanes) {
    for (int k = 0; k < kLanes; ++k) lane_max[k] = z[c + k] > lane_max[k] ? z[c + k] : lane_max[k];
  }
  float m = lane_max[0];
  for (int k = 1; k < kLanes; ++k) m = lane_max[k] > m ? lane_max[k] : m;
  return m;
}

// e = exp(z - shift) over the padded channels (the -inf tail adds ~1e-38 each); returns their sum.
MUST_KERNEL_INLINE float exp_and_sum(float* e, const float* z, float shift, int64_t channels) {
  const int64_t padded = (channels + kLanes - 1) / kLanes * kLanes;
  for (int64_t c = 0; c < padded; ++c) e[c] = exp_nonpositive(z[c] - shift);
  float lane_sum[kLanes] = {};
  for (int64_t c = 0; c < padded; c += kLanes) {
    for (int k = 0; k < kLanes; ++k) lane_sum[k] += e[c + k];
  }
  float s = 0;
  for (int k = 0; k < kLanes; ++k) s += lane_sum[k];
  return s;
}

struct Geometry {
  int64_t channels, in_width, out_height, out_width;
  const LinearTap* rows;
  const LinearTap* columns;
  int64_t ignore_index;
};

// Scratch of one thread: a blended row (in_width x C), its gradient, and one pixel's padded logits and exps.
struct Scratch {
  explicit Scratch(const Geometry& g)
      : row(size_t(g.in_width * g.channels)),
        row_gradient(size_t(g.in_width * g.channels)),
        z(size_t((g.channels + kLanes - 1) / kLanes * kLanes), -std::numeric_limits<float>::infinity()),
        e(z.size()) {}
  std::vector<float> row, row_gradient, z, e;
};

bool row_has_labels(const int64_t* labels, int64_t width, int64_t ignore_index) {
  for (int64_t x = 0; x < width; ++x) {
    if (labels[x] != ignore_index) return true;
  }
  return false;
}

// Blends output row's two source rows into s.row; false (and nothing done) when none of its pixels is labelled.
MUST_KERNEL_INLINE bool blend_source_rows(const float* logits, const int64_t* row_labels, const LinearTap& r,
                                          const Geometry& g, Scratch& s) {
  if (!row_has_labels(row_labels, g.out_width, g.ignore_index)) return false;
  const int64_t row_size = g.in_width * g.channels;
  blend(s.row.data(), logits + r.first * row_size, r.first_weight, logits + r.second * row_size, r.second_weight,
        row_size);
  return true;
}

// One image: writes each labelled pixel's log-sum-exp, returns the sum of its pixel losses.
MUST_CPU_KERNEL double forward_image(const float* logits, const int64_t* labels, float* log_sum_exp, const Geometry& g,
                                     Scratch& s) {
  double total = 0;
  for (int64_t y = 0; y < g.out_height; ++y) {
    const int64_t* row_labels = labels + y * g.out_width;
    if (!blend_source_rows(logits, row_labels, g.rows[y], g, s)) continue;
    for (int64_t x = 0; x < g.out_width; ++x) {
      const int64_t label = row_labels[x];
      if (label == g.ignore_index) continue;
      const float m = pixel_logits(s.z.data(), s.row.data(), g.columns[x], g.channels);
      const float lse = m + std::log(exp_and_sum(s.e.data(), s.z.data(), m, g.channels));
      log_sum_exp[y * g.out_width + x] = lse;
      total += double(lse) - double(s.z[size_t(label)]);
    }
  }
  return total;
}

// One image: adds d loss / d logits (scaled by `scale`, the upstream gradient over the labelled count) to
// `gradient` (NHWC, as the logits).
MUST_CPU_KERNEL void backward_image(const float* logits, const int64_t* labels, const float* log_sum_exp, float scale,
                                    const Geometry& g, Scratch& s, float* gradient) {
  const int64_t row_size = g.in_width * g.channels;
  const int64_t c_count = g.channels;
  for (int64_t y = 0; y < g.out_height; ++y) {
    const int64_t* row_labels = labels + y * g.out_width;
    const LinearTap& r = g.rows[y];
    if (!blend_source_rows(logits, row_labels, r, g, s)) continue;
    std::fill(s.row_gradient.begin(), s.row_gradient.end(), 0.0f);
    for (int64_t x = 0; x < g.out_width; ++x) {
      const int64_t label = row_labels[x];
      if (label == g.ignore_index) continue;
      const LinearTap& column = g.columns[x];
      pixel_logits(s.z.data(), s.row.data(), column, c_count);
      exp_and_sum(s.e.data(), s.z.data(), log_sum_exp[y * g.out_width + x], c_count);  // e = softmax(z)
      for (int64_t c = 0; c < c_count; ++c) s.e[size_t(c)] *= scale;
      s.e[size_t(label)] -= scale;
      add_scaled(s.row_gradient.data() + column.first * c_count, s.e.data(), column.first_weight, c_count);
      add_scaled(s.row_gradient.data() + column.second * c_count, s.e.data(), column.second_weight, c_count);
    }
    add_scaled(gradient + r.first * row_size, s.row_gradient.data(), r.first_weight, row_size);
    add_scaled(gradient + r.second * row_size, s.row_gradient.data(), r.second_weight, row_size);
  }
}

Geometry geometry(const torch::Tensor& logits_nhwc, const torch::Tensor& labels, const std::vector<LinearTap>& rows,
                  const std::vector<LinearTap>& columns, int64_t ignore_index) {
  return {logits_nhwc.size(3), logits_nhwc.size(2), labels.size(1), labels.size(2),
          rows.data(),         columns.data(),      ignore_index};
}

// logits [B, C, h, w] float (CPU), labels [B, H, W] long with ignore_index where unlabelled; labelled = the count
// of the others (> 0). Once differentiable in the logits.
class UpsampledCrossEntropy : public torch::autograd::Function<UpsampledCrossEntropy> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& labels, int64_t ignore_index, int64_t labelled) {
    RECORD_FUNCTION("must::cross_entropy_upsampled", std::vector<c10::IValue>({logits}));
    const torch::Tensor nhwc = logits.permute({0, 2, 3, 1}).contiguous();
    const torch::Tensor log_sum_exp = torch::zeros(labels.sizes(), logits.options());
    const auto rows = linear_taps(logits.size(2), labels.size(1));
    const auto columns = linear_taps(logits.size(3), labels.size(2));
    const Geometry g = geometry(nhwc, labels, rows, columns, ignore_index);
    std::vector<double> per_image(size_t(logits.size(0)), 0.0);
    at::parallel_for(0, logits.size(0), 1, [&](int64_t begin, int64_t end) {
      Scratch scratch(g);
      for (int64_t b = begin; b < end; ++b) {
        per_image[size_t(b)] = forward_image(nhwc[b].data_ptr<float>(), labels[b].data_ptr<int64_t>(),
                                             log_sum_exp[b].data_ptr<float>(), g, scratch);
      }
    });
    double total = 0;
    for (double v : per_image) total += v;
    ctx->save_for_backward({nhwc, labels, log_sum_exp});
    ctx->saved_data["ignore_index"] = ignore_index;
    ctx->saved_data["labelled"] = labelled;
    return torch::tensor(float(total / double(labelled)), logits.options());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &nhwc = saved[0], &labels = saved[1], &log_sum_exp = saved[2];
    const float scale = grad_outputs[0].item<float>() / float(ctx->saved_data["labelled"].toInt());
    const auto rows = linear_taps(nhwc.size(1), labels.size(1));
    const auto columns = linear_taps(nhwc.size(2), labels.size(2));
    const Geometry g = geometry(nhwc, labels, rows, columns, ctx->saved_data["ignore_index"].toInt());
    torch::Tensor gradient = torch::zeros_like(nhwc);
    at::parallel_for(0, nhwc.size(0), 1, [&](int64_t begin, int64_t end) {
      Scratch scratch(g);
      for (int64_t b = begin; b < end; ++b) {
        backward_image(nhwc[b].data_ptr<float>(), labels[b].data_ptr<int64_t>(), log_sum_exp[b].data_ptr<float>(),
                       scale, g, scratch, gradient[b].data_ptr<float>());
      }
    });
    return {gradient.permute({0, 3, 1, 2}).contiguous(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor cross_entropy_upsampled(const torch::Tensor& logits, const torch::Tensor& labels,
                                      const torch::Tensor& present, int64_t ignore_index) {
  MUST_CHECK(logits.dim() == 4 && labels.dim() == 3 && logits.size(0) == labels.size(0),
             "segmentation: logits [B, C, h, w] and labels [B, H, W] expected, got ", logits.sizes(), " and ",
             labels.sizes());
  MUST_CHECK(present.dim() == 1 && present.size(0) == labels.size(0), "presence should be [", labels.size(0), "], got ",
             present.sizes());
  if (!logits.device().is_cpu() || logits.scalar_type() != torch::kFloat) {  // ATen's ops, full resolution
    const torch::Tensor upsampled = torch::upsample_bilinear2d(logits, {labels.size(1), labels.size(2)}, false);
    return cross_entropy_map(upsampled, labels, present, ignore_index);
  }
  const torch::Tensor masked = labels.masked_fill(present.to(torch::kBool).view({-1, 1, 1}).logical_not(), ignore_index)
                                   .to(torch::kLong)
                                   .contiguous();
  const torch::Tensor labelled_mask = masked != ignore_index;
  const int64_t labelled = labelled_mask.sum().item<int64_t>();
  if (labelled == 0) return torch::zeros({}, logits.options().requires_grad(false));
  const torch::Tensor classes = masked.masked_select(labelled_mask);
  const int64_t low = classes.min().item<int64_t>(), high = classes.max().item<int64_t>();
  MUST_CHECK(low >= 0 && high < logits.size(1), "segmentation label ", low < 0 ? low : high, " is outside [0, ",
             logits.size(1), ") and is not the ignore value ", ignore_index);
  return UpsampledCrossEntropy::apply(logits, masked, ignore_index, labelled);
}

}  // namespace must::losses

#include "core/nets/cpu_attention.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <immintrin.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

// Compiled for any x86-64; only the functions marked GLIGEN_AVX512 use AVX-512, and they run only
// after the processor said it has it (cpu_fused_attention_applies). The blocks are spread over the
// threads with OpenMP (core/CMakeLists.txt compiles this file with it on LibTorch 1.13 only):
// ATen's parallel_for is a header template whose OpenMP pragma would be compiled here too.
#define GLIGEN_AVX512 __attribute__((target("avx512f")))

// GCC 12 reports "'__Y' may be used uninitialized" inside its own AVX-512 intrinsics when they are
// inlined into target("avx512f") functions (they start from _mm512_undefined_ps): not our code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace gligen::nets {
namespace {

constexpr int64_t kRows = 8;    // query rows per micro-kernel call (zero rows pad a block)
constexpr int64_t kPanel = 32;  // key columns per score micro-kernel call (two vectors)
constexpr int64_t kLanes = 16;  // floats per AVX-512 vector
// A block's scores are kept under this size so that they, the block's queries and its outputs stay
// in one core's L2 cache between the three passes.
constexpr int64_t kScoreBlockBytes = int64_t(256) << 10;
// Head sizes above this (the VAE's single 512-wide head) are slower here than the explicit form:
// [1, 1, 1024, 1024, 512] 1.09x, [1, 1, 4096, 4096, 512] 3.4x its time.
constexpr int64_t kMaxHeadDim = 256;

int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

bool have_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}

// e^x for the softmax's x = score - row maximum <= 0: x = n ln2 + r with |r| <= ln2/2 (ln2 split in
// a short and a long part so that n ln2 is exact), e^r by a degree-7 polynomial (the classic
// single-precision minimax coefficients), times 2^n. Below -87, where e^x is under float32's
// smallest normal number, x is clamped (a NaN passes through).
GLIGEN_AVX512 inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-87.0f), x);
  const __m512 n =
      _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// scores[r][j..j+32) = Σ_c q[r][c] · kt_panel[c][0..32) for kRows rows, over `panels` panels of the
// packed keys (panel p holds keys 32p..32p+31 as [d][32]).
GLIGEN_AVX512 void scores_kernel(const float* q, int64_t d, const float* kt, int64_t panels, float* scores,
                                 int64_t ld_scores) {
  for (int64_t p = 0; p < panels; ++p) {
    const float* panel = kt + p * d * kPanel;
    __m512 acc[kRows][2];
    for (int r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int64_t c = 0; c < d; ++c) {
      const __m512 k0 = _mm512_loadu_ps(panel + c * kPanel);
      const __m512 k1 = _mm512_loadu_ps(panel + c * kPanel + kLanes);
      for (int r = 0; r < kRows; ++r) {
        const __m512 qv = _mm512_set1_ps(q[r * d + c]);
        acc[r][0] = _mm512_fmadd_ps(qv, k0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(qv, k1, acc[r][1]);
      }
    }
    for (int r = 0; r < kRows; ++r) {
      _mm512_storeu_ps(scores + r * ld_scores + p * kPanel, acc[r][0]);
      _mm512_storeu_ps(scores + r * ld_scores + p * kPanel + kLanes, acc[r][1]);
    }
  }
}

// out[r][0..16·NV) = Σ_{j<m} probs[r][j] · v[j][0..16·NV) for kRows rows; v's rows are ld_v apart.
template <int NV>
GLIGEN_AVX512 void values_kernel(const float* probs, int64_t ld_probs, const float* v, int64_t ld_v, int64_t m,
                                 float* out, int64_t ld_out) {
  __m512 acc[kRows][NV];
  for (int r = 0; r < kRows; ++r)
    for (int n = 0; n < NV; ++n) acc[r][n] = _mm512_setzero_ps();
  for (int64_t j = 0; j < m; ++j) {
    __m512 vv[NV];
    for (int n = 0; n < NV; ++n) vv[n] = _mm512_loadu_ps(v + j * ld_v + n * kLanes);
    for (int r = 0; r < kRows; ++r) {
      const __m512 pr = _mm512_set1_ps(probs[r * ld_probs + j]);
      for (int n = 0; n < NV; ++n) acc[r][n] = _mm512_fmadd_ps(pr, vv[n], acc[r][n]);
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int n = 0; n < NV; ++n) _mm512_storeu_ps(out + r * ld_out + n * kLanes, acc[r][n]);
}

// Row r of scores[0..m) (padded with -inf up to a multiple of 16) becomes e^(s - max), in place;
// returns 1 / Σ e^(s - max).
GLIGEN_AVX512 float softmax_row(float* s, int64_t m_padded) {
  __m512 mx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < m_padded; j += kLanes) mx = _mm512_max_ps(mx, _mm512_loadu_ps(s + j));
  const __m512 row_max = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  const __m512 minus_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < m_padded; j += kLanes) {
    const __m512 x = _mm512_loadu_ps(s + j);
    // Padding columns (-inf) give exactly 0.
    const __m512 e =
        _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, minus_inf, _CMP_NEQ_UQ), exp_nonpositive(_mm512_sub_ps(x, row_max)));
    _mm512_storeu_ps(s + j, e);
    sum = _mm512_add_ps(sum, e);
  }
  return 1.0f / _mm512_reduce_add_ps(sum);
}

struct Shape {
  int64_t B, H, N, M, d;
  int64_t m_keys;     // M rounded up to kPanel
  int64_t ld_scores;  // floats between score rows: m_keys plus one cache line, so that the rows a
                      // micro-kernel walks together do not share L1 sets (they would 4 KiB apart)
  int64_t d_padded;   // d rounded up to kLanes
  int64_t rows;       // query rows per block (a multiple of kRows)
  int64_t blocks;     // blocks per (batch, head) pair
};

// One thread's buffers: the packed keys and values of one (batch, head) pair, reused while the
// thread's consecutive tasks stay in that pair, and one block's queries, scores and outputs.
struct Workspace {
  std::vector<float> kt, v, q, scores, out, inv_sum;
  int64_t packed_pair = -1;
};

struct Operand {
  const float* data;
  int64_t batch, head, row;  // strides in floats (the last one is 1)
};

GLIGEN_AVX512 void run_block(const Shape& sh, const Operand& q, const Operand& k, const Operand& v, float scale,
                             int64_t task, float* out_base, Workspace& ws) {
  const int64_t pair = task / sh.blocks, b = pair / sh.H, h = pair % sh.H;
  const int64_t row0 = (task % sh.blocks) * sh.rows, rows = std::min(sh.rows, sh.N - row0);
  const int64_t rows_padded = round_up(rows, kRows), d = sh.d;
  if (ws.packed_pair != pair) {
    // Keys as panels of 32 columns [M/32][d][32], values as rows of d_padded floats. Their padding
    // (key lanes from M on, value columns from d on) keeps the zeros the buffers were allocated with:
    // no pair writes there, and what it would feed (scores set to -inf, discarded output columns)
    // is never used.
    const float* kp = k.data + b * k.batch + h * k.head;
    const float* vp = v.data + b * v.batch + h * v.head;
    for (int64_t j = 0; j < sh.M; ++j) {
      const float* key = kp + j * k.row;
      float* panel = ws.kt.data() + (j / kPanel) * d * kPanel + (j % kPanel);
      for (int64_t c = 0; c < d; ++c) panel[c * kPanel] = key[c];
      std::copy(vp + j * v.row, vp + j * v.row + d, ws.v.data() + j * sh.d_padded);
    }
    ws.packed_pair = pair;
  }
  // The block's queries, scaled, as rows of d floats; zero rows up to a multiple of kRows (their
  // outputs are discarded; zeros keep them finite).
  const float* qp = q.data + b * q.batch + h * q.head + row0 * q.row;
  std::fill(ws.q.begin() + rows * d, ws.q.begin() + rows_padded * d, 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < d; ++c) ws.q[r * d + c] = qp[r * q.row + c] * scale;

  const int64_t ld = sh.ld_scores;
  for (int64_t r = 0; r < rows_padded; r += kRows)
    scores_kernel(ws.q.data() + r * d, d, ws.kt.data(), sh.m_keys / kPanel, ws.scores.data() + r * ld, ld);
  for (int64_t r = 0; r < rows_padded; ++r) {
    float* s = ws.scores.data() + r * ld;
    std::fill(s + sh.M, s + sh.m_keys, -std::numeric_limits<float>::infinity());
    ws.inv_sum[r] = softmax_row(s, sh.m_keys);
  }
  const int64_t ldo = sh.d_padded;
  for (int64_t r = 0; r < rows_padded; r += kRows) {
    const float* probs = ws.scores.data() + r * ld;
    float* o = ws.out.data() + r * ldo;
    int64_t c = 0;
    for (; c + 3 * kLanes <= sh.d_padded; c += 3 * kLanes)
      values_kernel<3>(probs, ld, ws.v.data() + c, sh.d_padded, sh.M, o + c, ldo);
    if (sh.d_padded - c == 2 * kLanes) values_kernel<2>(probs, ld, ws.v.data() + c, sh.d_padded, sh.M, o + c, ldo);
    if (sh.d_padded - c == kLanes) values_kernel<1>(probs, ld, ws.v.data() + c, sh.d_padded, sh.M, o + c, ldo);
  }
  // Output rows normalised by their softmax sums, into [B, N, H, d].
  for (int64_t r = 0; r < rows; ++r) {
    float* dst = out_base + ((b * sh.N + row0 + r) * sh.H + h) * d;
    const float* src = ws.out.data() + r * ldo;
    for (int64_t c = 0; c < d; ++c) dst[c] = src[c] * ws.inv_sum[r];
  }
}

}  // namespace

bool cpu_fused_attention_available() {
#ifdef _OPENMP
  constexpr bool kThreaded = true;
#else
  constexpr bool kThreaded = false;  // on one thread it is no faster than the explicit form on two
#endif
  return kThreaded && have_avx512();
}

bool cpu_fused_attention_applies(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  if (!cpu_fused_attention_available()) return false;
  for (const auto* t : {&q, &k, &v}) {
    if (!t->defined() || !t->device().is_cpu() || t->scalar_type() != at::kFloat || t->dim() != 4 ||
        t->stride(3) != 1 || t->is_mkldnn())
      return false;
    if (c10::GradMode::is_enabled() && t->requires_grad()) return false;
  }
  return k.sizes() == v.sizes() && q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3) &&
         q.size(2) > 0 && k.size(2) > 0 && q.size(3) > 0 && q.size(3) <= kMaxHeadDim;
}

at::Tensor cpu_fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  TORCH_CHECK(cpu_fused_attention_applies(q, k, v),
              "cpu_fused_attention needs float32 CPU tensors q [B, H, N, d], k and v [B, H, M, d] with a unit last "
              "stride and d <= 256, no autograd, an AVX-512 processor and the LibTorch 1.13 build "
              "(cpu_fused_attention_applies says where it runs); got q ",
              q.sizes(), ", k ", k.sizes(), ", v ", v.sizes());
  Shape sh{q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), 0, 0, 0, 0, 0};
  sh.m_keys = round_up(sh.M, kPanel);
  sh.ld_scores = sh.m_keys + kLanes;
  sh.d_padded = round_up(sh.d, kLanes);
  const int64_t fit = kScoreBlockBytes / (sh.ld_scores * static_cast<int64_t>(sizeof(float))) / kRows * kRows;
  sh.rows = std::min(std::max(fit, kRows), round_up(sh.N, kRows));
  sh.blocks = (sh.N + sh.rows - 1) / sh.rows;
  auto out = at::empty({sh.B, sh.N, sh.H, sh.d}, q.options());
  float* out_base = out.data_ptr<float>();
  const float scale_f = static_cast<float>(scale);
  const auto operand = [](const at::Tensor& t) {
    return Operand{t.data_ptr<float>(), t.stride(0), t.stride(1), t.stride(2)};
  };
  const Operand qo = operand(q), ko = operand(k), vo = operand(v);
  const int64_t tasks = sh.B * sh.H * sh.blocks;
  const int threads = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(at::in_parallel_region() ? 1 : at::get_num_threads(), tasks)));
  // Each thread takes a contiguous range of tasks: consecutive tasks share a (batch, head) pair, so
  // its keys and values are packed once per thread and pair. Buffers are allocated here, outside the
  // parallel region (nothing in it throws).
  std::vector<Workspace> spaces(threads);
  const int64_t rows_padded = round_up(sh.rows, kRows);
  for (auto& ws : spaces) {
    ws.kt.resize(sh.m_keys * sh.d);
    ws.v.resize(sh.m_keys * sh.d_padded);
    ws.q.resize(rows_padded * sh.d);
    ws.scores.resize(rows_padded * sh.ld_scores);
    ws.out.resize(rows_padded * sh.d_padded);
    ws.inv_sum.resize(rows_padded);
  }
  const auto run = [&](int64_t t, int64_t n) {
    const int64_t chunk = (tasks + n - 1) / n;
    for (int64_t task = t * chunk; task < std::min(tasks, (t + 1) * chunk); ++task)
      run_block(sh, qo, ko, vo, scale_f, task, out_base, spaces[t]);
  };
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
  run(omp_get_thread_num(), omp_get_num_threads());
#else
  run(0, 1);
#endif
  return out.transpose(1, 2);  // [B, H, N, d]
}

}  // namespace gligen::nets

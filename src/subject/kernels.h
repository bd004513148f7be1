// The hand-written CPU kernels of the fast subject trainer (no torch): one small-matrix multiply in the
// three layouts a transformer's forward and backward passes need, LayerNorm and GELU forward and
// backward. Built with -O3 and the machine's own instruction set (MM_NATIVE); every kernel is a fixed
// sequence of float operations, so the same inputs give the same bits on the same build.
#pragma once

#include <cstddef>

namespace mm::kern {

// C (n x o) = A B, or C += A B with `accumulate`, where A (n x k) is read as A[r * a_rs + i * a_cs]
// (a_rs = lda, a_cs = 1 for a row-major A; a_rs = 1, a_cs = lda for a transposed one) and B (k x o) is
// row-major with leading dimension ldb. o must be a multiple of 8.
void gemm(int n, int k, int o, const float* a, ptrdiff_t a_rs, ptrdiff_t a_cs, const float* b, ptrdiff_t ldb,
          float* c, ptrdiff_t ldc, bool accumulate);

// dst (cols x rows) = src (rows x cols)^T, both row-major and dense.
void transpose(int rows, int cols, const float* src, float* dst);

// y = (x - mean) * rstd * g + b over rows of width d; keeps xhat = (x - mean) * rstd and rstd for the
// backward pass (eps 1e-5, as torch's layer_norm).
void layer_norm(int n, int d, const float* x, const float* g, const float* b, float* xhat, float* rstd, float* y);
// Adds the input gradient to dx and the affine gradients to dg and db.
void layer_norm_backward(int n, int d, const float* dy, const float* xhat, const float* rstd, const float* g,
                         float* dg, float* db, float* dx);

// y = x * Phi(x) (the exact, erf-based GELU, to about 1e-7), and its derivative Phi(x) + x phi(x) in dy_dx.
void gelu(size_t n, const float* x, float* y, float* dy_dx);

// x . y over n floats, and the sum of squares of x (in double), each in a fixed vectorisable order.
float dot(const float* x, const float* y, int n);
double sum_squares(const float* x, size_t n);

// One AdamW update of n parameters: gradient g scaled by clip; first and second moments m, v; w decays
// by wd where decay is 1, then moves by step_size * m / (sqrt(v * inv_bc2) + eps).
void adamw(size_t n, float* w, float* m, float* v, const float* g, const float* decay, float clip, float b1, float b2,
           float inv_bc2, float eps, float step_size, float wd);

// x[i] = exp(x[i]) for x[i] <= 0 (to about 2e-7 relative; values below -87 give about 0).
void exp_nonpositive(size_t n, float* x);

// db[j] += sum over rows of dy[r * ld + j], j < o.
void column_sums(int n, int o, const float* dy, ptrdiff_t ld, float* db);

}  // namespace mm::kern

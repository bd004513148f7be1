// A subject with its internals renamed: every layer's heads in another order, every layer's MLP hidden
// units in another order, and the residual dimensions permuted everywhere. It computes exactly the same
// function with other weights (LayerNorm commutes with a permutation of its dimensions) — the augmentation
// the weight encoders train with (`mapper train --augment`). A general rotation of the residual basis would
// not keep a trained subject's function (its LayerNorm gains are per dimension), so only permutations are used.
#pragma once

#include <cstdint>

#include "subject/model.h"

namespace mm {

// Throws mm::Error for a compiled subject (its residual dimensions carry labels).
SubjectModel permute_subject(const SubjectModel& m, uint64_t seed);

}  // namespace mm

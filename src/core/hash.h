// A stable 64-bit content hash (FNV-1a): the same bytes give the same hash on every machine. Used to fix
// a program's train/test split and to derive per-program seeds; not for security.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mm {

uint64_t fnv1a64(std::string_view bytes);
std::string hex64(uint64_t v);  // 16 lowercase hex digits
// splitmix64's finaliser: every input bit reaches every output bit (FNV-1a's last byte barely reaches the
// low residues); what seeds Rng and mixes a hash whose residue is used.
uint64_t mix64(uint64_t z);

}  // namespace mm

// The languages by name: the one place that knows every implementation of mm::Language.
#include "core/error.h"
#include "core/language.h"
#include "listpy/listpy.h"
#include "rasp/rasp.h"

namespace mm {

std::vector<std::string> language_names() { return {"rasp", "python"}; }

const Language& language_by_name(std::string_view name) {
  if (name == "rasp") return rasp::language();
  if (name == "python") return listpy::language();
  throw Error("unknown language '" + std::string(name) + "' (choose rasp or python)");
}

}  // namespace mm

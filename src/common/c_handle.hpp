// Owning pointers for C library handles, freed by the library's own
// function: CHandle<EVP_MD_CTX, EVP_MD_CTX_free>, CHandle<sqlite3_stmt,
// sqlite3_finalize>. One definition instead of a deleter struct per type.
#pragma once

#include <memory>

namespace rollcall {

template <auto Free>
struct CFree {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

template <class T, auto Free>
using CHandle = std::unique_ptr<T, CFree<Free>>;

}  // namespace rollcall

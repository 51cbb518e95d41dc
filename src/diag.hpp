// What the last call on this thread decided: a test hook, so that tests can
// assert that a path they mean to exercise really ran (streaming stores, the
// packed kernel, the selection memory cap). One thread-local record, written
// by the API layer while it plans a call; nothing reads it on a hot path.
#pragma once

#include <cstddef>

namespace vo::diag {

struct last_call {
  bool streamed = false;           // normalize: non-temporal stores were used
  bool packed = false;             // cdist/topk: the packed GEMM-style kernel ran
  bool split_by_queries = false;   // cdist/topk: threads took query rows (else base rows)
  bool selection_capped = false;   // topk: a base split was refused by the memory cap
  std::size_t selection_bytes = 0; // topk: bytes of extra per-thread selections allocated
  std::size_t threads = 0;         // threads the call was planned for
};

// This thread's record (reset by each call that fills it).
last_call &last() noexcept;

} // namespace vo::diag

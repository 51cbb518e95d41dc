// A main() for the fuzz harness without libFuzzer: runs LLVMFuzzerTestOneInput
// over files and directories (the seed corpus, or a crash file to debug) and
// over a batch of inputs generated from a fixed seed. Any failed check aborts.
//
//   fuzz_replay [--generated N] [--seed S] [PATH...]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size);

namespace {

std::vector<std::uint8_t> read_file(const std::filesystem::path &p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::uint64_t next(std::uint64_t &state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

} // namespace

int main(int argc, char **argv) {
  std::size_t generated = 0;
  std::uint64_t seed = 1;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--generated" || arg == "--seed") && i + 1 < argc) {
      const unsigned long long v = std::strtoull(argv[++i], nullptr, 10);
      (arg == "--seed" ? seed : generated) = v;
    } else if (std::filesystem::is_directory(arg)) {
      for (const auto &e : std::filesystem::directory_iterator(arg)) {
        if (e.is_regular_file()) {
          files.push_back(e.path());
        }
      }
    } else if (std::filesystem::is_regular_file(arg)) {
      files.emplace_back(arg);
    } else {
      std::fprintf(stderr, "fuzz_replay: no such file or directory: %s\n", arg.c_str());
      return 2;
    }
  }
  for (const auto &p : files) {
    const auto bytes = read_file(p);
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  }
  // Generated inputs: random bytes of random length. The harness maps any
  // bytes to a call, so each one is a valid test.
  std::uint64_t state = seed;
  std::vector<std::uint8_t> bytes;
  for (std::size_t k = 0; k < generated; ++k) {
    bytes.resize(next(state) % 96);
    for (auto &b : bytes) {
      b = static_cast<std::uint8_t>(next(state));
    }
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  }
  std::printf("fuzz_replay: %zu corpus inputs and %zu generated inputs passed every check\n",
              files.size(), generated);
  return 0;
}

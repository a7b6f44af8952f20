// Times the Argon2id key derivation of an encrypted database's open (docs/encryption.md, "Key
// hierarchy"): open_key_file with the default kdf_params, and a few other costs for comparison.
// Best of three runs each, in seconds. Not a unit test: the figure depends on the machine.
//
//     entidb-kdf-time [DIR]     (DIR: where the KEY files are made; default: a temp directory)
#include <entidb/directory/key_file.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace {

double best_open_seconds(const std::filesystem::path& dir, const entidb::kdf_params& kdf) {
    std::filesystem::remove(dir / "KEY");
    (void)entidb::create_key_file(dir, entidb::passphrase_from("a passphrase of ordinary length"), kdf);
    double best = 1e9;
    for (int run = 0; run < 3; ++run) {
        const auto start = std::chrono::steady_clock::now();
        (void)entidb::open_key_file(dir, entidb::passphrase_from("a passphrase of ordinary length"));
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    const std::filesystem::path dir = argc > 1 ? std::filesystem::path(argv[1])
                                               : std::filesystem::temp_directory_path() /
                                                     ("entidb-kdf-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const entidb::kdf_params defaults{};
    std::printf("default (opslimit %llu, memlimit %llu MiB): %.3f s\n", static_cast<unsigned long long>(defaults.opslimit),
                static_cast<unsigned long long>(defaults.memlimit >> 20), best_open_seconds(dir, defaults));
    for (const entidb::kdf_params k : {entidb::kdf_params{2, 64u << 20}, entidb::kdf_params{3, 128u << 20},
                                       entidb::kdf_params{4, 256u << 20}})
        std::printf("opslimit %llu, memlimit %llu MiB: %.3f s\n", static_cast<unsigned long long>(k.opslimit),
                    static_cast<unsigned long long>(k.memlimit >> 20), best_open_seconds(dir, k));
    if (argc <= 1) std::filesystem::remove_all(dir);
}

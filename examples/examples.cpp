// The test suite builds both examples as one program (one translation unit: compiling the
// library's templates is most of an example's build time, and this pays it once). Each file
// stays a complete program of its own; here its `main` is renamed by its namespace and the
// first argument picks which one runs: `examples quickstart DB` or `examples todo DB`.
#include <entidb/entidb.hpp>
#include <fmt/core.h>

#include <string>
#include <string_view>
#include <vector>

// clang-format off
namespace quickstart_example {
#include "quickstart.cpp"
}
namespace todo_example {
#include "todo.cpp"
}
// clang-format on

int main(int argc, char** argv) {
    const std::string_view which = argc > 1 ? argv[1] : "";
    if (which == "quickstart") return quickstart_example::main(argc - 1, argv + 1);
    if (which == "todo") return todo_example::main(argc - 1, argv + 1);
    fmt::print(stderr, "usage: examples quickstart|todo [DB]\n");
    return 2;
}

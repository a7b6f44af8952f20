// Every header the test files include, included once at global scope before a suite
// (suite_*.cpp) wraps each test file in a namespace of its own. The files' own #includes
// then find their guards set and add nothing inside the namespace, so library and standard
// declarations stay global while each file's helpers stay apart. A header a test file starts
// to include belongs here too (an error naming `suite_x::std` means it is missing).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <concepts>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <initializer_list>
#include <iostream>
#include <iterator>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <optional>
#include <random>
#include <ranges>
#include <set>
#include <shared_mutex>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/core.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

// Only the public umbrella header: the suites also build against single_include/. A suite
// whose files include test-only headers (fault injection) includes them before this one.
#include <entidb/entidb.hpp>

#include "test_support.hpp"
#include "test_encryption.hpp"

// Prints the tokens of each line of standard input, space-separated, one line per input line
// (options: --keep-diacritics, --stem-english). Used by check_fts5.py.
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include <entidb/text/tokenizer.hpp>

int main(int argc, char** argv) {
    entidb::text::tokenizer_options options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--keep-diacritics") options.remove_diacritics = false;
        else if (arg == "--stem-english") options.stem = entidb::text::stemmer::english;
        else {
            std::fprintf(stderr, "usage: tokenize_lines [--keep-diacritics] [--stem-english] < lines\n");
            return 2;
        }
    }
    std::string line;
    std::string out;
    while (std::getline(std::cin, line)) {
        out.clear();
        entidb::text::tokenize(line, options, [&](std::string_view token, std::uint32_t) {
            if (!out.empty()) out += ' ';
            out += token;
        });
        out += '\n';
        std::fwrite(out.data(), 1, out.size(), stdout);
    }
    return 0;
}

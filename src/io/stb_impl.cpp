// The stb image libraries (Debian's libstb-dev, 2.27) compiled in one translation unit of their own, so that the
// fuzz build can relax sanitizer checks for stb's code alone (cmake/fuzz.cmake) while io/image.cpp, which guards
// stb against hostile files, keeps every check.
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO
#define STBI_MAX_DIMENSIONS 16384
// stb_image's asserts are internal consistency checks that malformed JPEG data can trip (a Huffman code that does
// not match its table, found by io_image_fuzz): in release builds NDEBUG removes them and decoding goes on to a
// clean failure or garbage pixels, so every build does the same rather than abort on a stranger's file. Memory
// safety is what the fuzzer's ASan checks.
#define STBI_ASSERT(x) ((void)0)
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>
#pragma GCC diagnostic pop

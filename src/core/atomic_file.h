// Atomic file writes: a temporary file in the same folder, fsync, rename over the target, fsync the folder.
// A reader sees the old file or the new one, never a half-written one, even after a crash or SIGKILL.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace couture {

// Streams data through `write` (called with a sink that appends bytes), then commits atomically.
// On any error the temporary file is removed and the target is left as it was.
void write_file_atomic(const std::filesystem::path& target,
                       const std::function<void(const std::function<void(const void*, size_t)>&)>& write);
void write_file_atomic(const std::filesystem::path& target, std::string_view bytes);

void fsync_directory(const std::filesystem::path& dir);
std::string read_file(const std::filesystem::path& path);  // whole file, or couture::Error naming it

}  // namespace couture

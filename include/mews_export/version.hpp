// The library's version, as the build configured it.
#pragma once

namespace mews_export {

// "0.1.0"
const char* version();

}  // namespace mews_export

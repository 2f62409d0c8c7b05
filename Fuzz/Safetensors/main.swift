import FuzzSupport

// A closure, not `fuzz` itself: its C thunk would define LLVMFuzzerTestOneInput a second time.
runLibFuzzer { fuzz($0, $1) }

// SwiftPM links an executable with `main` aliased to its module's entry point, which hides
// libFuzzer's own `main`: start libFuzzer's driver from here, with the target's
// LLVMFuzzerTestOneInput. (Same file in every Fuzz/ target.)
#if canImport(Glibc)
import Glibc
#endif

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
// A closure, not `fuzz` itself: its C thunk would define LLVMFuzzerTestOneInput a second time.
exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzz($0, $1) })

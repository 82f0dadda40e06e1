//go:build linux && !(mips || mipsle || mips64 || mips64le)

package troupe

// soReusePort is SO_REUSEPORT, which package syscall lacks on some
// architectures.
const soReusePort = 0xf

//go:build linux && (mips || mipsle || mips64 || mips64le)

package troupe

// soReusePort is SO_REUSEPORT, whose number MIPS has of its own.
const soReusePort = 0x200

//go:build linux && !386

package troupe

import (
	"net"
	"syscall"
	"unsafe"
)

// acceptQueueLen gives how many connections wait in a TCP listening
// socket's accept queue, which Linux reports in TCP_INFO's unacked field
// for a listener. known is false when it cannot tell.
func acceptQueueLen(ln net.Listener) (n int, known bool) {
	var info syscall.TCPInfo
	read := onListenerSocket(ln, func(fd int) error {
		size := uint32(syscall.SizeofTCPInfo)
		_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)), 0)
		if errno != 0 {
			return errno
		}
		return nil
	})
	if !read || info.State != tcpListen {
		return 0, false
	}
	return int(info.Unacked), true
}

// tcpListen is Linux's TCP_LISTEN state.
const tcpListen = 10

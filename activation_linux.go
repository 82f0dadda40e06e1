package troupe

import "syscall"

// listeningStream reports whether fd is a stream socket that listens, as
// sd_is_socket(3) checks it.
func listeningStream(fd int) bool {
	typ, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE)
	if err != nil || typ != syscall.SOCK_STREAM {
		return false
	}
	accepting, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	return err == nil && accepting == 1
}

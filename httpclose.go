package troupe

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// closingWriter answers with "Connection: close" once the group's stop
// delay or the server's drain has begun: the client is to go elsewhere,
// and its connection ends with the response rather than by being cut
// while idle, which makes clients resend requests they had already sent
// on it. It decides as the header is written, not as the handler begins,
// so that a request in flight when the delay begins is told too. HTTP/2 has no such header;
// its clients learn from Shutdown's GOAWAY.
//
// It keeps what net/http's HTTP/1 writer offers: Flush and FlushError,
// Hijack, ReadFrom, CloseNotify, and Unwrap for http.ResponseController.
type closingWriter struct {
	http.ResponseWriter
	q       *requests
	decided bool
}

func (w *closingWriter) decide() {
	if w.decided {
		return
	}
	w.decided = true
	if w.q.tellClose() {
		w.ResponseWriter.Header().Set("Connection", "close")
	}
}

func (w *closingWriter) WriteHeader(code int) {
	if code >= 200 { // an informational header is not the response's
		w.decide()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *closingWriter) Write(p []byte) (int, error) {
	w.decide()
	return w.ResponseWriter.Write(p)
}

func (w *closingWriter) ReadFrom(r io.Reader) (int64, error) {
	w.decide()
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
}

func (w *closingWriter) Flush() { w.FlushError() }

// FlushError flushes, and gives the error, which http.ResponseController
// reports: a streaming handler learns from it that its client has gone.
func (w *closingWriter) FlushError() error {
	w.decide()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// CloseNotify is net/http's own, for handlers written before contexts.
func (w *closingWriter) CloseNotify() <-chan bool {
	//lint:ignore SA1019 the writer keeps what net/http's offers, deprecated or not
	return w.ResponseWriter.(http.CloseNotifier).CloseNotify()
}

func (w *closingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap gives net/http's writer, for http.ResponseController.
func (w *closingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

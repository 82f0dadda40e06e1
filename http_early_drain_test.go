package troupe_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// Every request whose handler ran gets its complete response, across
// response kinds, when the drain ends early as the last one is answered.
func TestEarlyDrainEndLosesNoAnsweredResponse(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB: more than the socket buffers
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(big)
	var mu sync.Mutex
	handled := map[string]bool{}
	mux := http.NewServeMux()
	mark := func(r *http.Request) {
		mu.Lock()
		handled[r.Header.Get("X-Id")] = true
		mu.Unlock()
	}
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		mark(r)
		time.Sleep(20 * time.Millisecond)
		w.Write(big)
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		mark(r)
		time.Sleep(20 * time.Millisecond)
		f, err := os.Open(path)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		io.Copy(w, f)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		mark(r)
		rc := http.NewResponseController(w)
		for i := 0; i < 16; i++ {
			w.Write(big[i<<18 : (i+1)<<18])
			rc.Flush()
			time.Sleep(2 * time.Millisecond)
		}
	})
	mux.HandleFunc("/unread", func(w http.ResponseWriter, r *http.Request) {
		mark(r)
		time.Sleep(20 * time.Millisecond)
		w.Write(big)
	})
	ln := listen(t)
	base := "http://" + ln.Addr().String()
	var g troupe.Group
	g.ShutdownTimeout = time.Minute
	g.Add(troupe.HTTPServer(&http.Server{Handler: mux}, troupe.Listener(ln), troupe.DrainTimeout(30*time.Second))).Name("http")
	fire, ran := runUntilFired(&g, nil)

	var sent, ok atomic.Int64
	var bad sync.Map
	okIDs := sync.Map{}
	stopAt := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	for i := range 16 {
		keep := i%2 == 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: !keep, ExpectContinueTimeout: time.Second}, Timeout: time.Minute}
			defer client.CloseIdleConnections()
			paths := []string{"/big", "/file", "/stream", "/unread"}
			for n := 0; time.Now().Before(stopAt) && n < 500; n++ {
				id := fmt.Sprintf("%d-%d", i, n)
				p := paths[(i+n)%len(paths)]
				var req *http.Request
				if p == "/unread" {
					req, _ = http.NewRequest("POST", base+p, strings.NewReader(strings.Repeat("x", 100<<10)))
					if n%2 == 0 {
						req.Header.Set("Expect", "100-continue")
					}
				} else {
					req, _ = http.NewRequest("GET", base+p, nil)
				}
				req.Header.Set("X-Id", id)
				sent.Add(1)
				resp, err := client.Do(req)
				if err != nil {
					bad.Store(id, err.Error())
					continue
				}
				h := sha256.New()
				_, err = io.Copy(h, slowReader{resp.Body, n%3 == 0})
				resp.Body.Close()
				if err != nil || !bytes.Equal(h.Sum(nil), sum[:]) {
					bad.Store(id, fmt.Sprintf("%s: body %v", p, err))
					continue
				}
				ok.Add(1)
				okIDs.Store(id, true)
			}
		}()
	}
	for ok.Load() < 100 && time.Now().Before(stopAt) {
		time.Sleep(time.Millisecond)
	}
	close(fire)
	if err := <-ran; err != nil {
		t.Errorf("Run() = %v", err)
	}
	wg.Wait()
	lost := 0
	mu.Lock()
	for id := range handled {
		if _, good := okIDs.Load(id); !good {
			lost++
			if lost < 5 {
				e, _ := bad.Load(id)
				t.Errorf("request %s: handler ran, client got no complete response: %v", id, e)
			}
		}
	}
	t.Logf("sent %d, handled %d, ok %d, lost %d", sent.Load(), len(handled), ok.Load(), lost)
	mu.Unlock()
}

type slowReader struct {
	r    io.Reader
	slow bool
}

func (s slowReader) Read(p []byte) (int, error) {
	if s.slow {
		time.Sleep(time.Millisecond)
		if len(p) > 64<<10 {
			p = p[:64<<10]
		}
	}
	return s.r.Read(p)
}

package troupe_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
)

func TestZeroGroupWithNoActorsReturnsNil(t *testing.T) {
	var g troupe.Group
	if err := g.Run(); err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
}

func TestFirstNilReturnInterruptsAllAndRunReturnsNil(t *testing.T) {
	var g troupe.Group
	a, b := newProbe(nil), newProbe(nil)
	g.Add(a.execute, a.interrupt).Name("a")
	g.Add(b.execute, b.interrupt).Name("b")
	g.Add(returnsNow(nil)).Name("quitter")

	if err := g.Run(); err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
	for name, p := range map[string]*probe{"a": a, "b": b} {
		if want, have := int32(1), p.calls.Load(); want != have {
			t.Errorf("%s: interrupt calls: want %d, have %d", name, want, have)
		}
		var ae *troupe.ActorError
		if !errors.As(p.gotCause(), &ae) || ae.Actor != "quitter" || !errors.Is(ae, troupe.ErrReturned) {
			t.Errorf("%s: cause = %v, want an ActorError for quitter matching ErrReturned", name, p.gotCause())
		}
	}
}

func TestFirstErrorIsReturnedWithTheActorsName(t *testing.T) {
	var g troupe.Group
	boom := errors.New("boom")
	p := newProbe(nil)
	g.Add(p.execute, p.interrupt).Name("server")
	g.Add(returnsNow(boom)).Name("worker")

	err := g.Run()
	var ae *troupe.ActorError
	if !errors.Is(err, boom) || !errors.As(err, &ae) || ae.Actor != "worker" {
		t.Fatalf("Run() = %v, want boom from actor worker", err)
	}
	if want := `troupe: actor "worker": boom`; err.Error() != want {
		t.Errorf("message: want %q, have %q", want, err.Error())
	}
	if !errors.Is(p.gotCause(), boom) {
		t.Errorf("interrupt cause = %v, want it to wrap boom", p.gotCause())
	}
}

func TestEveryInterruptIsCalledOnceEvenAfterItsActorReturned(t *testing.T) {
	var g troupe.Group
	var calls [3]atomic.Int32
	for i := range calls {
		g.Add(func() error { return nil }, func(error) { calls[i].Add(1) })
	}
	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
	for i := range calls {
		if want, have := int32(1), calls[i].Load(); want != have {
			t.Errorf("actor %d: interrupt calls: want %d, have %d", i, want, have)
		}
	}
}

// A barrier that each interrupt enters and that opens only when all have
// entered: interrupts called one after another would deadlock, which
// synctest reports as a failure rather than a hang.
func TestInterruptsRunConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 3
		var g troupe.Group
		var entered atomic.Int32
		all := make(chan struct{})
		for range n {
			p := newProbe(nil)
			g.Add(p.execute, func(cause error) {
				if entered.Add(1) == n {
					close(all)
				}
				<-all
				p.interrupt(cause)
			})
		}
		g.Add(returnsNow(nil))
		if err := g.Run(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBlockingInterruptsOverlapInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, d = 500, 300 * time.Millisecond
		var g troupe.Group
		for range n {
			p := newProbe(nil)
			g.Add(p.execute, func(cause error) { time.Sleep(d); p.interrupt(cause) })
		}
		g.Add(returnsNow(nil))
		start := time.Now()
		if err := g.Run(); err != nil {
			t.Fatal(err)
		}
		if have := time.Since(start); have < d || have > d+time.Millisecond {
			t.Errorf("shutdown took %v of fake time, want %v plus under 1ms (not %d × %v)", have, d, n, d)
		}
	})
}

func TestSecondRunReturnsErrAlreadyRun(t *testing.T) {
	var g troupe.Group
	g.Add(returnsNow(nil))
	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
	if err := g.Run(); !errors.Is(err, troupe.ErrAlreadyRun) {
		t.Fatalf("second Run() = %v, want ErrAlreadyRun", err)
	}
}

func TestAddAndSettingsAfterRunStartedPanic(t *testing.T) {
	var g troupe.Group
	p := newProbe(nil)
	handle := g.Add(p.execute, p.interrupt).Name("p")
	done := make(chan error, 1)
	started := make(chan struct{})
	g.Go(func(ctx context.Context) error { close(started); <-ctx.Done(); return nil })
	go func() { done <- g.Run() }()
	<-started

	for what, f := range map[string]func(){
		"Add":  func() { g.Add(returnsNow(nil)) },
		"Go":   func() { g.Go(func(context.Context) error { return nil }) },
		"Name": func() { handle.Name("other") },
	} {
		msg := panicMessage(f)
		if !strings.HasPrefix(msg, "troupe: ") || !strings.Contains(msg, "after Run started") {
			t.Errorf("%s during Run: panic %q, want a troupe: message saying Run started", what, msg)
		}
	}
	p.release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func panicMessage(f func()) (msg string) {
	defer func() { msg = fmt.Sprint(recover()) }()
	f()
	return ""
}

func TestOneShotNilReturnDoesNotStopTheGroup(t *testing.T) {
	var g troupe.Group
	migrated := make(chan struct{})
	server := newProbe(nil)
	g.Add(func() error { close(migrated); return nil }, func(error) {}).Name("migrate").OneShot()
	g.Add(server.execute, server.interrupt).Name("server")
	g.Go(func(ctx context.Context) error {
		<-migrated
		select {
		case <-server.returned:
			return errors.New("server stopped after the one-shot actor returned")
		default:
		}
		return nil
	}).Name("checker")

	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
}

func TestOneShotErrorStillStopsTheGroup(t *testing.T) {
	var g troupe.Group
	bad := errors.New("migration failed")
	server := newProbe(nil)
	g.Add(returnsNow(bad)).Name("migrate").OneShot()
	g.Add(server.execute, server.interrupt).Name("server")
	if err := g.Run(); !errors.Is(err, bad) {
		t.Fatalf("Run() = %v, want the migration error", err)
	}
}

func TestAllOneShotActorsReturningNilEndRunWithNil(t *testing.T) {
	var g troupe.Group
	var interrupts atomic.Int32
	for range 3 {
		g.Add(func() error { return nil }, func(error) { interrupts.Add(1) }).OneShot()
	}
	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
	if want, have := int32(3), interrupts.Load(); want != have {
		t.Errorf("interrupts: want %d, have %d", want, have)
	}
}

func TestStopAfterInterruptsALaterStageOnlyWhenTheEarlierHasReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group
		httpStop := make(chan struct{})
		httpInterrupted := make(chan struct{})
		g.Add(func() error { <-httpStop; return nil }, func(error) { close(httpInterrupted) }).Name("http")
		db := newProbe(nil)
		g.Add(db.execute, db.interrupt).Name("db").StopAfter("http")
		g.Add(returnsNow(nil)).Name("trigger")

		done := make(chan error, 1)
		go func() { done <- g.Run() }()
		<-httpInterrupted
		synctest.Wait()
		if db.calls.Load() != 0 {
			t.Fatal("db interrupted while http was still draining")
		}
		close(httpStop)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if want, have := int32(1), db.calls.Load(); want != have {
			t.Errorf("db interrupts: want %d, have %d", want, have)
		}
	})
}

func TestStopAfterGoesAheadWhenAnActorsOwnTimeoutPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group
		stuck := newStubborn()
		g.Add(stuck.execute, stuck.interrupt).Name("http").Timeout(5 * time.Second)
		db := newProbe(nil)
		g.Add(db.execute, db.interrupt).Name("db").StopAfter("http")
		g.Add(returnsNow(nil)).Name("trigger")

		start := time.Now()
		err := g.Run()
		if want, have := 5*time.Second, time.Since(start); want != have {
			t.Errorf("Run took %v, want %v", have, want)
		}
		var te *troupe.TimeoutError
		if !errors.Is(err, troupe.ErrShutdownTimeout) || !errors.As(err, &te) || !slices.Equal(te.Stragglers, []string{"http"}) {
			t.Fatalf("Run() = %v, want a TimeoutError naming only http", err)
		}
		if db.calls.Load() != 1 {
			t.Error("db was not interrupted after http's timeout")
		}
		close(stuck.letGo)
	})
}

func TestStagesFollowTheLongestChain(t *testing.T) {
	var g troupe.Group
	var mu sync.Mutex
	var order []string
	add := func(name string, after ...string) {
		p := newProbe(nil)
		g.Add(p.execute, func(cause error) {
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			p.interrupt(cause)
		}).Name(name).StopAfter(after...)
	}
	add("db", "cache", "http")
	add("cache", "http")
	add("http")
	g.Add(returnsNow(nil)).Name("trigger").StopAfter("db")
	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"http", "cache", "db"}; !slices.Equal(want, order) {
		t.Errorf("interrupt order: want %v, have %v", want, order)
	}
}

func TestInvalidGroupsAreRefusedBeforeAnythingStarts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(g *troupe.Group, execute func() error)
		want  string
	}{
		{"nil execute", func(g *troupe.Group, _ func() error) { g.Add(nil, func(error) {}).Name("x") }, `actor "x": nil execute function`},
		{"nil interrupt", func(g *troupe.Group, e func() error) { g.Add(e, nil).Name("x") }, `actor "x": nil interrupt function`},
		{"nil context function", func(g *troupe.Group, _ func() error) { g.Go(nil).Name("x") }, `actor "x": nil context function`},
		{"unnamed nil", func(g *troupe.Group, _ func() error) { g.Add(nil, nil) }, `actor "actor-2": nil execute and interrupt functions`},
		{"duplicate name", func(g *troupe.Group, e func() error) {
			g.Add(e, func(error) {}).Name("x")
			g.Add(e, func(error) {}).Name("x")
		}, `actor "x": name used by another actor`},
		{"empty name", func(g *troupe.Group, e func() error) { g.Add(e, func(error) {}).Name("") }, `actor "actor-2": empty name`},
		{"unknown stop order", func(g *troupe.Group, e func() error) { g.Add(e, func(error) {}).Name("db").StopAfter("htp") }, `actor "db": StopAfter names unknown actor "htp"`},
		{"self stop order", func(g *troupe.Group, e func() error) { g.Add(e, func(error) {}).Name("db").StopAfter("db") }, `actor "db": StopAfter names the actor itself`},
		{"cycle", func(g *troupe.Group, e func() error) {
			g.Add(e, func(error) {}).Name("a").StopAfter("c")
			g.Add(e, func(error) {}).Name("b").StopAfter("a")
			g.Add(e, func(error) {}).Name("c").StopAfter("b")
		}, "stop order forms a cycle: a stops after c stops after b stops after a"},
		{"negative actor timeout", func(g *troupe.Group, e func() error) { g.Add(e, func(error) {}).Name("x").Timeout(-time.Second) }, `actor "x": negative Timeout -1s`},
		{"negative shutdown timeout", func(g *troupe.Group, _ func() error) { g.ShutdownTimeout = -1 }, "troupe: negative ShutdownTimeout -1ns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g troupe.Group
			var started atomic.Bool
			execute := func() error { started.Store(true); return nil }
			g.Add(execute, func(error) {}).Name("fine")
			tc.build(&g, execute)
			err := g.Run()
			if !errors.Is(err, troupe.ErrInvalid) {
				t.Fatalf("Run() = %v, want ErrInvalid", err)
			}
			if !strings.HasPrefix(err.Error(), "troupe: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("message %q, want it to start with troupe: and contain %q", err, tc.want)
			}
			if started.Load() {
				t.Error("an actor was started")
			}
		})
	}
}

func TestEveryConfigurationProblemIsReportedAtOnce(t *testing.T) {
	var g troupe.Group
	g.Add(nil, func(error) {}).Name("a")
	g.Add(func() error { return nil }, func(error) {}).Name("b").StopAfter("nope")
	err := g.Run()
	for _, want := range []string{`actor "a": nil execute`, `actor "b": StopAfter names unknown actor "nope"`} {
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("Run() = %v, want it to mention %s", err, want)
		}
	}
}

func TestShutdownTimeoutReturnsOnTimeAndNamesExactlyTheStragglers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{ShutdownTimeout: 10 * time.Second}
		s1, s2 := newStubborn(), newStubborn()
		prompt := newProbe(nil)
		g.Add(s1.execute, s1.interrupt).Name("stuck-1")
		g.Add(prompt.execute, prompt.interrupt).Name("prompt")
		g.Add(s2.execute, s2.interrupt).Name("stuck-2")
		g.Add(returnsNow(nil)).Name("trigger")

		start := time.Now()
		err := g.Run()
		if want, have := 10*time.Second, time.Since(start); want != have {
			t.Errorf("Run took %v, want exactly the ShutdownTimeout %v", have, want)
		}
		var te *troupe.TimeoutError
		if !errors.As(err, &te) || !errors.Is(err, troupe.ErrShutdownTimeout) {
			t.Fatalf("Run() = %v, want a TimeoutError", err)
		}
		if want := []string{"stuck-1", "stuck-2"}; !slices.Equal(want, te.Stragglers) {
			t.Errorf("stragglers: want %v, have %v", want, te.Stragglers)
		}
		if want := `troupe: shutdown deadline of 10s passed; still running: "stuck-1", "stuck-2"`; err.Error() != want {
			t.Errorf("message: want %q, have %q", want, err.Error())
		}
		close(s1.letGo)
		close(s2.letGo)
	})
}

func TestShutdownTimeoutInterruptsStagesThatHaveNotCome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{ShutdownTimeout: time.Second}
		stuck := newStubborn()
		db := newProbe(nil)
		g.Add(stuck.execute, stuck.interrupt).Name("http")
		g.Add(db.execute, db.interrupt).Name("db").StopAfter("http")
		g.Add(returnsNow(nil)).Name("trigger")

		err := g.Run()
		var te *troupe.TimeoutError
		if !errors.As(err, &te) {
			t.Fatalf("Run() = %v, want a TimeoutError", err)
		}
		<-db.returned
		if want, have := int32(1), db.calls.Load(); want != have {
			t.Errorf("db interrupts: want %d, have %d", want, have)
		}
		close(stuck.letGo)
	})
}

func TestWithoutTimeoutRunWaitsForEveryActor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group
		stuck := newStubborn()
		g.Add(stuck.execute, stuck.interrupt).Name("slow")
		g.Add(returnsNow(nil))
		done := make(chan error, 1)
		go func() { done <- g.Run() }()
		time.Sleep(time.Hour) // fake time: an hour passes at once
		select {
		case err := <-done:
			t.Fatalf("Run returned %v while an actor was still running", err)
		default:
		}
		close(stuck.letGo)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestRunJoinsTheCauseWithEveryOtherFailure(t *testing.T) {
	var g troupe.Group
	cause := errors.New("listener died")
	flush := errors.New("flush failed")
	closeErr := errors.New("close failed")
	g.Add(newProbe(flush).pair()).Name("exporter")
	g.Add(newProbe(closeErr).pair()).Name("db")
	g.Add(newProbe(nil).pair()).Name("clean")
	g.Add(returnsNow(cause)).Name("http")

	err := g.Run()
	for _, want := range []error{cause, flush, closeErr} {
		if !errors.Is(err, want) {
			t.Errorf("Run() = %v, want it to include %v", err, want)
		}
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Run() = %T, want a joined error", err)
	}
	if first := joined.Unwrap()[0]; !errors.Is(first, cause) {
		t.Errorf("first error = %v, want the cause", first)
	}
	names := actorNames(err)
	slices.Sort(names)
	if want := []string{"db", "exporter", "http"}; !slices.Equal(want, names) {
		t.Errorf("named actors: want %v, have %v", want, names)
	}
}

func (p *probe) pair() (func() error, func(error)) { return p.execute, p.interrupt }

func TestEchoesOfTheInterruptionAreNotFailures(t *testing.T) {
	var g troupe.Group
	g.Add(newProbe(context.Canceled).pair()).Name("canceled")
	g.Add(newProbe(fmt.Errorf("serve: %w", http.ErrServerClosed)).pair()).Name("http")
	echo := newProbe(nil)
	g.Add(func() error { <-echo.stop; return echo.gotCause() }, echo.interrupt).Name("echo")
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return context.Cause(ctx) }).Name("ctx-cause")
	g.Go(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }).Name("ctx-err")
	g.Add(returnsNow(nil)).Name("trigger")
	if err := g.Run(); err != nil {
		t.Fatalf("Run() = %v, want nil: every error was an echo", err)
	}
}

func TestContextCanceledBeforeAnyInterruptIsAFailure(t *testing.T) {
	var g troupe.Group
	g.Add(newProbe(nil).pair()).Name("server")
	g.Add(returnsNow(fmt.Errorf("query: %w", context.Canceled))).Name("client")
	if err := g.Run(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() = %v, want the context.Canceled that began the shutdown", err)
	}
}

func TestServerClosedAsTheCauseIsACleanStop(t *testing.T) {
	var g troupe.Group
	g.Add(newProbe(nil).pair()).Name("other")
	g.Add(returnsNow(http.ErrServerClosed)).Name("http")
	if err := g.Run(); err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
}

func TestPanicBecomesAnErrorAndTheRestShutDownGracefully(t *testing.T) {
	var g troupe.Group
	server := newProbe(nil)
	g.Add(server.execute, server.interrupt).Name("server")
	g.Add(func() error { panicsInAFunctionNamedForTheStack(); return nil }, func(error) {}).Name("worker")

	err := g.Run()
	var pe *troupe.PanicError
	var ae *troupe.ActorError
	if !errors.As(err, &pe) || !errors.As(err, &ae) {
		t.Fatalf("Run() = %v, want an ActorError wrapping a PanicError", err)
	}
	if ae.Actor != "worker" || pe.Value != "boom" {
		t.Errorf("actor %q value %v, want worker and boom", ae.Actor, pe.Value)
	}
	if !strings.Contains(string(pe.Stack), "panicsInAFunctionNamedForTheStack") {
		t.Errorf("stack does not show where the panic happened:\n%s", pe.Stack)
	}
	if !strings.Contains(err.Error(), `troupe: actor "worker": panic: boom`) {
		t.Errorf("message %q does not name the actor and value", err)
	}
	select {
	case <-server.returned:
	default:
		t.Error("server had not returned when Run did")
	}
	if server.calls.Load() != 1 {
		t.Error("server was not interrupted")
	}
}

func panicsInAFunctionNamedForTheStack() { panic("boom") }

func TestPanicWithAnErrorValueIsReachableWithErrorsIs(t *testing.T) {
	var g troupe.Group
	sentinel := errors.New("sentinel")
	g.Add(func() error { panic(sentinel) }, func(error) {})
	if err := g.Run(); !errors.Is(err, sentinel) {
		t.Fatalf("Run() = %v, want it to reach the panic value", err)
	}
}

func TestPanicInAnInterruptIsReportedNotFatal(t *testing.T) {
	var g troupe.Group
	p := newProbe(nil)
	g.Add(p.execute, func(cause error) { p.interrupt(cause); panic("interrupt broke") }).Name("fragile")
	g.Add(returnsNow(nil)).Name("trigger")
	err := g.Run()
	var pe *troupe.PanicError
	if !errors.As(err, &pe) || pe.Value != "interrupt broke" {
		t.Fatalf("Run() = %v, want the interrupt's panic", err)
	}
	if names := actorNames(err); !slices.Equal(names, []string{"fragile"}) {
		t.Errorf("named actors %v, want [fragile]", names)
	}
}

func TestGoexitInAnActorIsReportedNotLost(t *testing.T) {
	var g troupe.Group
	g.Add(newProbe(nil).pair()).Name("server")
	g.Add(func() error { runtime.Goexit(); return nil }, func(error) {}).Name("quitter")
	err := g.Run()
	if err == nil || !strings.Contains(err.Error(), `actor "quitter": actor called runtime.Goexit`) {
		t.Fatalf("Run() = %v, want an error saying quitter called Goexit", err)
	}
}

// An execute that calls runtime.Goexit and then panics in a deferred
// function has panicked: the panic is recovered, after which Go goes on
// with the Goexit. Run names the panic, with or without a logger (the two
// paths of a return, claim.go), whether or not the other actor has begun.
func TestAPanicAfterGoexitInAnActorIsNotLost(t *testing.T) {
	for _, logged := range []bool{false, true} {
		for _, wait := range []bool{false, true} {
			t.Run(fmt.Sprintf("logger %v, after the other began %v", logged, wait), func(t *testing.T) {
				var g troupe.Group
				if logged {
					g.Logger = slog.New(slog.DiscardHandler)
				}
				started := make(chan struct{})
				p := newProbe(nil)
				g.Add(func() error { close(started); return p.execute() }, p.interrupt).Name("server")
				g.Add(func() error {
					if wait {
						<-started
					}
					defer func() { panic("after Goexit") }()
					runtime.Goexit()
					return nil
				}, func(error) {}).Name("quitter")
				err := g.Run()
				var pe *troupe.PanicError
				if !errors.As(err, &pe) || pe.Value != "after Goexit" {
					t.Fatalf("Run() = %v, want quitter's panic", err)
				}
				if names := actorNames(err); !slices.Contains(names, "quitter") {
					t.Errorf("named actors %v, want quitter among them", names)
				}
			})
		}
	}
}

func TestContextActorsSeeTheCause(t *testing.T) {
	var g troupe.Group
	boom := errors.New("boom")
	got := make(chan error, 1)
	g.Go(func(ctx context.Context) error {
		<-ctx.Done()
		got <- context.Cause(ctx)
		return ctx.Err()
	}).Name("worker")
	g.Add(returnsNow(boom)).Name("failing")
	if err := g.Run(); !errors.Is(err, boom) {
		t.Fatalf("Run() = %v, want boom", err)
	}
	cause := <-got
	var ae *troupe.ActorError
	if !errors.Is(cause, boom) || !errors.As(cause, &ae) || ae.Actor != "failing" {
		t.Errorf("context.Cause = %v, want boom from actor failing", cause)
	}
}

func TestLogsTheLifecycleWithActorNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &capture{}
		g := troupe.Group{Logger: slog.New(h), ShutdownTimeout: time.Second}
		stuck := newStubborn()
		g.Add(stuck.execute, stuck.interrupt).Name("stuck")
		g.Add(returnsNow(errors.New("boom"))).Name("failing")
		g.Run()
		close(stuck.letGo)

		events := h.events()
		for _, want := range []string{
			"actor started actor=stuck",
			"actor started actor=failing",
			"actor returned actor=failing",
			"shutdown begun actor=failing",
			"actor still running at shutdown deadline actor=stuck",
			"group stopped",
		} {
			if !slices.Contains(events, want) {
				t.Errorf("no %q event in %q", want, events)
			}
		}
	})
}

func TestLogsEachStopStage(t *testing.T) {
	h := &capture{}
	g := troupe.Group{Logger: slog.New(h)}
	g.Add(newProbe(nil).pair()).Name("http")
	g.Add(newProbe(nil).pair()).Name("db").StopAfter("http")
	g.Add(returnsNow(nil)).Name("trigger")
	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
	if want, have := 2, countOf(h.events(), "stop stage done"); want != have {
		t.Errorf("stage events: want %d, have %d in %q", want, have, h.events())
	}
}

func countOf(events []string, msg string) int {
	n := 0
	for _, e := range events {
		if e == msg {
			n++
		}
	}
	return n
}

// With no Logger the group must not fall back to slog's default logger.
func TestWithoutALoggerNothingIsLogged(t *testing.T) {
	h := &capture{}
	old := slog.Default()
	slog.SetDefault(slog.New(h))
	defer slog.SetDefault(old)

	var g troupe.Group
	g.Add(newProbe(nil).pair())
	g.Add(returnsNow(errors.New("boom")))
	g.Run()
	if events := h.events(); len(events) != 0 {
		t.Errorf("logged %q with no Logger set", events)
	}
}

// A deadline that passes while many interrupts block must still see every
// interrupt called, each exactly once, and every blocked actor named.
func TestAtTheDeadlineEveryBlockedInterruptIsCalledOnceAndNamed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 40
		g := troupe.Group{ShutdownTimeout: 150 * time.Microsecond}
		release := make(chan struct{})
		var calls [n]atomic.Int32
		var ended sync.WaitGroup
		ended.Add(n)
		for i := range n {
			stop := make(chan struct{})
			g.Add(func() error { <-stop; return nil }, func(error) {
				defer ended.Done()
				calls[i].Add(1)
				<-release // a Shutdown that takes long
				close(stop)
			})
		}
		g.Add(returnsNow(nil))
		err := g.Run()
		var te *troupe.TimeoutError
		if !errors.As(err, &te) || len(te.Stragglers) != n {
			t.Fatalf("Run() = %v, want all %d blocked actors named", err, n)
		}
		close(release)
		ended.Wait()
		for i := range n {
			if want, have := int32(1), calls[i].Load(); want != have {
				t.Errorf("actor %d: interrupt calls: want %d, have %d", i, want, have)
			}
		}
	})
}

// Past 16 interrupts in a stage, the old crews claimed them one goroutine at
// a time; actors whose own Timeout passed before their interrupt was claimed
// settled the stage, and Run returned with those interrupts never called.
// Every interrupt is called on every exit path.
func TestEveryInterruptIsCalledWhenActorTimeoutsSettleTheStage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 20
		var g troupe.Group
		hang := make(chan struct{})
		var calls [n]atomic.Int32
		stops := make([]chan struct{}, n)
		var executes sync.WaitGroup
		for i := range n {
			stops[i] = make(chan struct{})
			executes.Add(1)
			g.Add(func() error { defer executes.Done(); <-stops[i]; return nil }, func(error) {
				calls[i].Add(1)
				if i == 0 {
					<-hang // the first interrupt hangs
				}
			}).Timeout(50 * time.Microsecond)
		}
		g.Add(returnsNow(nil)).Timeout(50 * time.Microsecond)
		err := g.Run()
		var te *troupe.TimeoutError
		if !errors.As(err, &te) {
			t.Fatalf("Run() = %v, want a TimeoutError", err)
		}
		synctest.Wait() // every goroutine that could still call one is blocked
		for i := range n {
			if want, have := int32(1), calls[i].Load(); want != have {
				t.Errorf("actor %d: interrupt calls when Run returned: want %d, have %d", i, want, have)
			}
		}
		close(hang)
		for i := range n {
			close(stops[i])
		}
		executes.Wait()
	})
}

// An actor's Timeout counts from the moment its interrupt is called, not
// from when the shutdown decided to call it.
func TestAnActorsTimeoutCountsFromItsInterruptCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = time.Second
		var g troupe.Group
		var names []string
		release := make(chan struct{})
		// Enough quick actors, and one slow interrupt first, that a pool of
		// interrupt goroutines would call the stubborn one late.
		slow := newProbe(nil)
		g.Add(slow.execute, func(cause error) { time.Sleep(500 * time.Millisecond); slow.interrupt(cause) }).Name("slow")
		names = append(names, "slow")
		for i := range 18 {
			p := newProbe(nil)
			name := fmt.Sprintf("quick-%d", i)
			g.Add(p.execute, p.interrupt).Name(name)
			names = append(names, name)
		}
		var calledAt atomic.Int64
		g.Add(func() error { <-release; return nil }, func(error) {
			calledAt.Store(time.Now().UnixNano())
		}).Name("stubborn").Timeout(timeout)
		names = append(names, "stubborn")
		var nextAt atomic.Int64
		next := newProbe(nil)
		g.Add(next.execute, func(cause error) {
			nextAt.Store(time.Now().UnixNano())
			next.interrupt(cause)
		}).Name("next").StopAfter(names...)
		g.Add(returnsNow(nil)).Name("trigger")

		g.Run()
		close(release)
		if want, have := timeout, time.Duration(nextAt.Load()-calledAt.Load()); want != have {
			t.Errorf("the next stage began %v after the stubborn interrupt was called, want its Timeout %v", have, want)
		}
	})
}

func TestGoexitInAnInterruptIsReportedNotLost(t *testing.T) {
	var g troupe.Group
	p := newProbe(nil)
	g.Add(p.execute, func(cause error) { p.interrupt(cause); runtime.Goexit() }).Name("quitter")
	g.Add(returnsNow(nil)).Name("trigger")
	err := g.Run()
	if err == nil || !strings.Contains(err.Error(), `actor "quitter": interrupt called runtime.Goexit`) {
		t.Fatalf("Run() = %v, want an error saying quitter's interrupt called Goexit", err)
	}
}

// An explicit name equal to an unnamed actor's default would make two
// actors answer to one name in logs and errors.
func TestANameThatIsAnotherActorsDefaultIsRefused(t *testing.T) {
	var g troupe.Group
	g.Add(newProbe(nil).pair()).Name("actor-2")
	g.Add(newProbe(nil).pair()) // actor-2 by default
	g.Add(returnsNow(nil))
	err := g.Run()
	if !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), `actor "actor-2": name is the default name of the unnamed actor 2`) {
		t.Fatalf("Run() = %v, want ErrInvalid saying actor-2 is taken", err)
	}
}

func TestAnActorTimeoutStragglerIsNotCalledAShutdownDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g troupe.Group // no ShutdownTimeout
		stuck := newStubborn()
		g.Add(stuck.execute, stuck.interrupt).Name("stuck").Timeout(time.Second)
		g.Add(returnsNow(nil)).Name("trigger")
		err := g.Run()
		close(stuck.letGo)
		if want := `troupe: actor timeout passed; still running: "stuck"`; err == nil || err.Error() != want {
			t.Fatalf("Run() = %v, want %q", err, want)
		}
		if !errors.Is(err, troupe.ErrShutdownTimeout) {
			t.Error("an actor timeout's straggler does not match ErrShutdownTimeout")
		}
	})
}

func TestActorErrorWithoutAnErrorDoesNotPanic(t *testing.T) {
	if want, have := `troupe: actor "x"`, (&troupe.ActorError{Actor: "x"}).Error(); want != have {
		t.Errorf("message: want %q, have %q", want, have)
	}
}

// An Add actor's error that wraps context.Canceled is not an echo: the
// group cancelled no context of the actor's, and "flush: context canceled"
// means the flush did not happen.
func TestAWrappedContextCanceledFromAnAddActorIsAFailure(t *testing.T) {
	var g troupe.Group
	flush := fmt.Errorf("flush: %w", context.Canceled)
	g.Add(newProbe(flush).pair()).Name("exporter")
	g.Add(returnsNow(nil)).Name("trigger")
	if err := g.Run(); !errors.Is(err, flush) {
		t.Fatalf("Run() = %v, want the flush error", err)
	}
}

// The listener recipe from oklog/run's README: Serve on ln, and close ln to
// stop. Serve's "use of closed network connection" is the echo of that
// interrupt, so a program moved over from run.Group still stops cleanly.
func TestOklogRunsListenerRecipeStopsCleanly(t *testing.T) {
	ln := listen(t)
	srv := &http.Server{}
	var g troupe.Group
	g.Add(func() error { return srv.Serve(ln) }, func(error) { ln.Close() }).Name("http")
	fire, ran := runUntilFired(&g, nil)
	untilServing(t, ln.Addr().String())
	close(fire)
	if err := <-ran; err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
}

// A listener closed by someone else while nobody asked the actor to stop is
// a failure, not an echo.
func TestNetErrClosedBeforeAnyInterruptIsAFailure(t *testing.T) {
	var g troupe.Group
	g.Add(newProbe(nil).pair()).Name("other")
	g.Add(returnsNow(fmt.Errorf("accept: %w", net.ErrClosed))).Name("http")
	if err := g.Run(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Run() = %v, want net.ErrClosed", err)
	}
}

// Run refuses a misconfigured group before any execute, but the contract
// still holds: every interrupt is called once, so that pairs release what
// they took when they were made.
func TestARefusedGroupCallsEveryInterruptOnceAndNoExecute(t *testing.T) {
	var g troupe.Group
	var executes atomic.Int32
	var interrupts [2]atomic.Int32
	var causes [2]error
	for i := range interrupts {
		g.Add(func() error { executes.Add(1); return nil }, func(cause error) {
			interrupts[i].Add(1)
			causes[i] = cause
		})
	}
	g.Add(nil, nil).Name("broken")
	err := g.Run()
	if !errors.Is(err, troupe.ErrInvalid) {
		t.Fatalf("Run() = %v, want ErrInvalid", err)
	}
	if executes.Load() != 0 {
		t.Errorf("%d executes called", executes.Load())
	}
	for i := range interrupts {
		if want, have := int32(1), interrupts[i].Load(); want != have {
			t.Errorf("actor %d: interrupt calls: want %d, have %d", i, want, have)
		}
		if !errors.Is(causes[i], troupe.ErrInvalid) {
			t.Errorf("actor %d: cause %v, want the refusal", i, causes[i])
		}
	}
}

func TestARefusedGroupReportsAnInterruptThatPanics(t *testing.T) {
	var g troupe.Group
	g.Add(func() error { return nil }, func(error) { panic("interrupt broke") }).Name("fragile")
	g.Add(nil, nil)
	err := g.Run()
	var pe *troupe.PanicError
	if !errors.Is(err, troupe.ErrInvalid) || !errors.As(err, &pe) || pe.Value != "interrupt broke" {
		t.Fatalf("Run() = %v, want ErrInvalid joined with the panic", err)
	}
}

// An interrupt that waits for its execute would wait forever in a refused
// group; ShutdownTimeout bounds that wait, as it does a shutdown's.
func TestARefusedGroupWaitsForInterruptsOnlyUntilTheShutdownTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := troupe.Group{ShutdownTimeout: time.Second}
		executed := make(chan struct{})
		g.Add(func() error { close(executed); return nil }, func(error) { <-executed }).Name("waits")
		g.Add(nil, nil)
		start := time.Now()
		err := g.Run()
		var te *troupe.TimeoutError
		if !errors.Is(err, troupe.ErrInvalid) || !errors.As(err, &te) || !slices.Equal(te.Stragglers, []string{"waits"}) {
			t.Fatalf("Run() = %v, want ErrInvalid and waits named", err)
		}
		if want, have := time.Second, time.Since(start); want != have {
			t.Errorf("Run took %v, want %v", have, want)
		}
		close(executed)
	})
}

// An interrupt of a refused group that calls runtime.Goexit has ended: it
// is reported as such, not also as a straggler.
func TestARefusedGroupReportsAGoexitInAnInterruptOnlyAsSuch(t *testing.T) {
	var g troupe.Group
	g.Add(func() error { return nil }, func(error) { runtime.Goexit() }).Name("quitter")
	g.Add(nil, nil)
	err := g.Run()
	if !errors.Is(err, troupe.ErrInvalid) || !strings.Contains(err.Error(), `actor "quitter": interrupt called runtime.Goexit`) {
		t.Fatalf("Run() = %v, want ErrInvalid and the Goexit", err)
	}
	var te *troupe.TimeoutError
	if errors.As(err, &te) {
		t.Errorf("Run() = %v: names a straggler, though the interrupt ended and no deadline passed", err)
	}
}

func TestEveryCycleIsReportedWithEveryOtherProblem(t *testing.T) {
	var g troupe.Group
	g.Add(newProbe(nil).pair()).Name("a").StopAfter("b")
	g.Add(newProbe(nil).pair()).Name("b").StopAfter("a")
	g.Add(newProbe(nil).pair()).Name("c").StopAfter("d")
	g.Add(newProbe(nil).pair()).Name("d").StopAfter("c")
	g.Add(newProbe(nil).pair()).Name("e").Timeout(-time.Second).StopAfter("nope")
	err := g.Run()
	for _, want := range []string{
		"a stops after b stops after a",
		"c stops after d stops after c",
		`actor "e": negative Timeout -1s`,
		`actor "e": StopAfter names unknown actor "nope"`,
	} {
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("Run() = %v\nwant it to mention %q", err, want)
		}
	}
}

// Every execute returns at once and every interrupt blocks, with a Timeout
// of a nanosecond: Run stops waiting when the Timeouts pass, and must name
// every actor, whose interrupt is still running. An actor left out had its
// Timeout start before its interrupt was counted as begun. Real time, not
// synctest: the window was between two statements of one goroutine.
func TestAnActorWhoseTimeoutPassedIsNamedWhileItsInterruptRuns(t *testing.T) {
	const n = 64
	for iteration := range 300 {
		var g troupe.Group
		release := make(chan struct{})
		var ended sync.WaitGroup
		ended.Add(n)
		for range n {
			g.Add(func() error { return nil }, func(error) {
				defer ended.Done()
				<-release
			}).Timeout(time.Nanosecond)
		}
		err := g.Run()
		close(release)
		ended.Wait()
		var te *troupe.TimeoutError
		if !errors.As(err, &te) || len(te.Stragglers) != n {
			t.Fatalf("iteration %d: Run() = %v, want all %d actors named", iteration, err, n)
		}
	}
}

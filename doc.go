// Package troupe runs the long-lived parts of a program as one group: HTTP
// and gRPC servers, background loops, signal handlers, resources to close.
// They start together; the first one to return makes all the others stop;
// [Group.Run] returns only after every part has shut down cleanly, or a
// deadline has passed and the stragglers are named.
//
// The model is github.com/oklog/run's. An actor is a pair of functions,
// execute, which runs, and interrupt, which makes execute return; or a
// func(ctx) error whose context is cancelled, as with errgroup. [Group.Add]
// has oklog/run's signature, so code written for run.Group moves over by
// changing the type, and every adapter in this package returns a pair that
// also works in a plain run.Group. What troupe adds:
//
//   - names, in every log line and every error ([Actor.Name]);
//   - interrupts called concurrently, so one slow Shutdown does not delay
//     the others;
//   - a declared stop order ([Actor.StopAfter]): close the database after
//     the servers have drained;
//   - deadlines for the whole shutdown ([Group.ShutdownTimeout]) and per
//     actor ([Actor.Timeout]), with the stragglers named ([TimeoutError]);
//   - panics turned into errors while the rest of the group drains
//     ([PanicError]);
//   - every failure kept and joined, not only the first ([ActorError]);
//   - adapters that get shutdown right: [HTTPServer] drains with a fresh
//     deadline, [GRPCServer] falls back from GracefulStop to Stop, [Ticker]
//     never overlaps runs, [Signals] exits at once on a second signal;
//   - supervision: [Restart] with backoff, groups nested in groups
//     ([Group.AddGroup]), and [Serve], which runs any pair under a context
//     for a main built on errgroup rather than Group;
//   - a production lifecycle: readiness and start order
//     ([Actor.ReadyWhen], [Actor.StartAfter], [Group.StartTimeout]), a
//     state anyone may read ([Group.State], [Group.WaitReady]), a stop
//     asked from anywhere ([Group.Stop]), /livez and /readyz
//     ([Group.HealthHandler]), a stop delay for load balancers to catch up
//     ([Group.StopDelay]), and systemd's notify protocol and socket
//     activation ([SystemdNotify], [SystemdReload], [SystemdSockets]).
//
// The zero [Group] is ready to use:
//
//	func main() {
//		g := troupe.Group{Logger: slog.Default(), ShutdownTimeout: 25 * time.Second}
//		g.Add(troupe.Signals()).Name("signals")
//		g.Add(troupe.HTTPServer(&http.Server{Addr: ":8080", Handler: mux})).Name("http")
//		g.Add(troupe.Ticker(time.Minute, reportUsage)).Name("usage")
//		g.Add(troupe.Closer(db)).Name("db").StopAfter("http")
//		os.Exit(troupe.ExitCode(g.Run()))
//	}
//
// # What Run returns
//
// Run returns nil when the shutdown's cause was a clean return. Otherwise
// it returns the cause first, joined with every other actor's failure, each
// an [*ActorError] naming its actor; errors.Is and errors.As reach each
// one. A stop by [Signals], by the cancellation of a parent context given
// to [Context], or by [Group.Stop], returns an error matching
// [ErrStopRequested], and [ExitCode] maps it to 0. Actors that never
// started, because the group stopped before what they start after was
// ready, are listed in a [NotStartedError], which ExitCode looks past.
//
// # Echoes
//
// What an actor returns after it was interrupted may only echo the
// interruption, and is then not a failure. This is the whole list:
//
//   - nil;
//   - an error matching [net/http.ErrServerClosed], from any actor;
//   - from an interrupted actor: an error matching the cause that Run gave
//     its interrupt; one matching [net.ErrClosed], as a Serve whose
//     listener the interrupt closed returns (the listener recipe of
//     oklog/run); and a bare [context.Canceled], as an execute that
//     returns ctx.Err() after its interrupt cancelled ctx does (the context
//     recipe).
//
// A wrapped context.Canceled from an [Group.Add] actor, such as "flush:
// context canceled", is a failure: the group cancelled no context of that
// actor's, so something the actor tried did not happen. A [Group.Go] or
// [Func] actor's context is the group's, and any error matching
// context.Canceled or the cause, returned once that context is cancelled,
// is an echo. An error before the actor's interrupt, net.ErrClosed
// included, is never an echo: someone else closed what it used.
//
// # Misuse
//
// A misconfigured group (a nil function, a duplicate name, an unknown name
// or a cycle in the start or stop order, a negative timeout) makes Run return
// [ErrInvalid] before any execute is called, listing every problem; every
// interrupt is still called once, so pairs release what they hold. A
// second Run returns [ErrAlreadyRun]. Add, and any [Actor] setting, after
// Run has started panics: it is a programming error, and the actor would
// never run. The adapters panic when they are called with a bad argument
// (a nil server, a non-positive interval), as [time.NewTicker] does: their
// pairs must work in a plain run.Group too, which could not report it.
package troupe

// Package sim runs a population of simulated devices through a release to
// measure how fast the client's update policy reaches them: the proof
// behind 'mpship simulate' and the "99% within 24 hours" claim of
// docs/client.md. docs/simulation.md describes the usage model and its
// assumptions.
//
// # What is real
//
// Every device is a client.Runtime with its own state directory, its own
// virtual clock (client.Options.Now) and the policy under test: every
// decision (whether a launch waits, which mini programs a periodic pass
// checks, when the next pass is due, what to download) is the client's own
// code. Its requests go to the real origin handler (origin.New over a local
// store filled by generator.Run) through an in-process http.RoundTripper,
// without sockets. The release is real too: two stores, one with the old
// version only and one with both, and a device's clock picks which one
// answers.
//
// # What is modelled
//
// People and platforms: when the super app comes to the foreground (the host
// then runs a periodic pass), when the mini program is cold or warm
// started, when the platform grants the host a background task, when a
// device has no network or a weak or metered one. Each device's draw
// depends only on the seed and its index, so a run is reproducible
// whatever the number of workers. The CDN is a count: a POP asks the origin
// for the channel manifest at most once per max-age window and for an
// immutable object once.
//
// # Cost
//
// State is written without fsync (client.Options.NoSync), and the mini
// program is a few small files, so that 10,000 devices over two days take
// well under a minute on two cores. A device's directory is deleted when it
// is done.
package sim

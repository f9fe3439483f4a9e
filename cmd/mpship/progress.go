package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/mpship/mpship/generator"
)

// progressInterval is the least time between two redraws of the progress
// line, except when a blob finishes.
const progressInterval = 100 * time.Millisecond

// progressLine draws the state of a release's uploads as one line that is
// redrawn in place ("\r" and erase to end of line). It is for terminals
// only: newProgressLine returns nil for anything else, and every method
// of a nil *progressLine does nothing. Calls must not be concurrent (the
// generator serialises its Progress calls).
type progressLine struct {
	w     io.Writer
	now   func() time.Time
	last  time.Time // of the last redraw
	done  int       // Done at the last redraw
	drawn bool
}

// newProgressLine returns a progressLine on w when w is a terminal, else
// nil.
func newProgressLine(w io.Writer) *progressLine {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &progressLine{w: w, now: time.Now}
}

// callback returns the function to pass as generator.Options.Progress:
// nil when p is nil, so the generator does not track progress at all.
func (p *progressLine) callback() func(generator.Progress) {
	if p == nil {
		return nil
	}
	return p.update
}

func (p *progressLine) update(pr generator.Progress) {
	now := p.now()
	if p.drawn && pr.Done == p.done && pr.Done < pr.Blobs && now.Sub(p.last) < progressInterval {
		return
	}
	p.last, p.done, p.drawn = now, pr.Done, true
	fmt.Fprintf(p.w, "\r\x1b[Kblobs %d/%d done, %s of %s uploaded", pr.Done, pr.Blobs, sizeString(pr.Sent), sizeString(pr.Bytes))
}

// finish ends the line, if one was drawn.
func (p *progressLine) finish() {
	if p == nil || !p.drawn {
		return
	}
	fmt.Fprintln(p.w)
	p.drawn = false
}

// sizeString formats a byte count for people: "512 B", "4.5 MB" (SI units).
func sizeString(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTP"[exp])
}

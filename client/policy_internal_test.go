package client

import (
	"strings"
	"testing"
	"time"
)

func TestPolicyDefaults(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	tests := []struct {
		name    string
		in      Policy
		want    Policy
		wantErr string
	}{
		{
			name: "zero takes the defaults",
			want: Policy{RecentWindow: 7 * day, CheckInterval: time.Hour, CheckJitter: 10 * time.Minute, SyncTimeout: 5 * time.Second, DisuseAfter: 14 * day},
		},
		{
			name: "negative turns rules off",
			in:   Policy{CheckInterval: -1, SyncTimeout: -time.Second, DisuseAfter: -day},
			want: Policy{RecentWindow: 7 * day, CheckInterval: -1, SyncTimeout: -1, DisuseAfter: -1},
		},
		{
			name: "jitter follows the interval",
			in:   Policy{CheckInterval: 6 * time.Hour},
			want: Policy{RecentWindow: 7 * day, CheckInterval: 6 * time.Hour, CheckJitter: time.Hour, SyncTimeout: 5 * time.Second, DisuseAfter: 14 * day},
		},
		{
			name: "no jitter",
			in:   Policy{CheckJitter: -1},
			want: Policy{RecentWindow: 7 * day, CheckInterval: time.Hour, SyncTimeout: 5 * time.Second, DisuseAfter: 14 * day},
		},
		{name: "interval too short", in: Policy{CheckInterval: time.Second}, wantErr: "check_interval 1s out of range 1m0s..168h0m0s"},
		{name: "timeout too long", in: Policy{SyncTimeout: time.Hour}, wantErr: "sync_timeout 1h0m0s out of range"},
		{name: "window negative", in: Policy{RecentWindow: -1}, wantErr: "recent_window"},
		{name: "jitter over half", in: Policy{CheckJitter: 31 * time.Minute}, wantErr: "check_jitter 31m0s over half the check interval 1h0m0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.withDefaults()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestPlan: the decision of a cold start, from the state, the clock and the
// network alone.
func TestPlan(t *testing.T) {
	t.Parallel()
	p, err := Policy{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	recent := now.Add(-time.Hour)
	old := now.Add(-15 * 24 * time.Hour)
	tests := []struct {
		name     string
		st       AppState
		net      Network
		simulate bool
		policy   func(*Policy)
		want     launchPlan
	}{
		{
			name: "plain cold start",
			st:   AppState{Installed: "1.0.0", LastUsed: recent},
			net:  NetworkGood,
			want: launchPlan{mode: ModeAsync, reason: ReasonColdStart, check: true, download: true},
		},
		{
			name: "marked",
			st:   AppState{Installed: "1.0.0", LastUsed: recent, Marked: "1.1.0"},
			net:  NetworkGood,
			want: launchPlan{mode: ModeSync, reason: ReasonMarked, blocking: true, download: true},
		},
		{
			name: "marked and downloaded ahead",
			st:   AppState{Installed: "1.1.0", LastUsed: recent, Marked: "1.1.0"},
			net:  NetworkWeak,
			want: launchPlan{mode: ModeSync, reason: ReasonMarked, check: true, download: true},
		},
		{
			name: "disused",
			st:   AppState{Installed: "1.0.0", LastUsed: old},
			net:  NetworkGood,
			want: launchPlan{mode: ModeSync, reason: ReasonDisuse, blocking: true, download: true},
		},
		{
			name: "disused just under the threshold",
			st:   AppState{Installed: "1.0.0", LastUsed: now.Add(-14*24*time.Hour + time.Second)},
			net:  NetworkGood,
			want: launchPlan{mode: ModeAsync, reason: ReasonColdStart, check: true, download: true},
		},
		{
			name: "disused on a weak network",
			st:   AppState{Installed: "1.0.0", LastUsed: old},
			net:  NetworkWeak,
			want: launchPlan{mode: ModeAsync, reason: ReasonWeakNetwork, check: true, download: true},
		},
		{
			name:   "marked on a metered network that defers downloads",
			st:     AppState{Installed: "1.0.0", LastUsed: recent, Marked: "1.1.0"},
			net:    NetworkMetered,
			policy: func(p *Policy) { p.DeferOnMetered = true },
			want:   launchPlan{mode: ModeAsync, reason: ReasonWeakNetwork, check: true, download: false},
		},
		{
			name: "marked offline",
			st:   AppState{Installed: "1.0.0", LastUsed: recent, Marked: "1.1.0"},
			net:  NetworkOffline,
			want: launchPlan{mode: ModeAsync, reason: ReasonWeakNetwork},
		},
		{
			name:     "simulated",
			st:       AppState{Installed: "1.0.0", LastUsed: old, Marked: "1.1.0"},
			net:      NetworkGood,
			simulate: true,
			want:     launchPlan{mode: ModeAsync, reason: ReasonSimulated, download: true},
		},
		{
			name:   "synchronous launches off",
			st:     AppState{Installed: "1.0.0", LastUsed: old, Marked: "1.1.0"},
			net:    NetworkGood,
			policy: func(p *Policy) { p.SyncTimeout = -1 },
			want:   launchPlan{mode: ModeAsync, reason: ReasonColdStart, check: true, download: true},
		},
		{
			name:   "cold-start check off",
			st:     AppState{Installed: "1.0.0", LastUsed: recent},
			net:    NetworkGood,
			policy: func(p *Policy) { p.NoColdStartCheck = true },
			want:   launchPlan{mode: ModeAsync, reason: ReasonColdStart, download: true},
		},
		{
			name:   "rule 4 off",
			st:     AppState{Installed: "1.0.0", LastUsed: old},
			net:    NetworkGood,
			policy: func(p *Policy) { p.DisuseAfter = -1 },
			want:   launchPlan{mode: ModeAsync, reason: ReasonColdStart, check: true, download: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := p
			if tc.policy != nil {
				tc.policy(&p)
			}
			if got := p.plan(&tc.st, now, tc.net, tc.simulate); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestBackgroundDue(t *testing.T) {
	t.Parallel()
	p, err := Policy{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	st := func(lastUsed, checked time.Duration) *AppState {
		return &AppState{Installed: "1.0.0", Channel: "stable", LastUsed: now.Add(-lastUsed),
			Channels: map[string]ChannelState{"stable": {CheckedAt: now.Add(-checked)}}}
	}
	tests := []struct {
		name    string
		st      *AppState
		jitter  time.Duration
		wantDue bool
		wantWhy string
	}{
		{"checked an hour ago", st(2*time.Hour, time.Hour), 0, true, ""},
		{"checked 50m ago", st(2*time.Hour, 50*time.Minute), 0, false, "checked 50m ago"},
		{"checked 50m ago, early pass", st(2*time.Hour, 50*time.Minute), -10 * time.Minute, true, ""},
		{"checked 65m ago, late pass", st(2*time.Hour, 65*time.Minute), 10 * time.Minute, false, "checked 1h5m ago"},
		{"used 7 days ago", st(7*24*time.Hour, 2*time.Hour), 0, true, ""},
		{"used 8 days ago", st(8*24*time.Hour, 2*time.Hour), 0, false, "not used within 7d"},
		{"never checked", &AppState{Installed: "1.0.0", Channel: "stable", LastUsed: now}, 0, true, ""},
		{"not installed", &AppState{}, 0, false, "not installed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			due, why := p.backgroundDue(tc.st, now, tc.jitter)
			if due != tc.wantDue || why != tc.wantWhy {
				t.Errorf("got %v %q, want %v %q", due, why, tc.wantDue, tc.wantWhy)
			}
		})
	}
}

func TestParseContentRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in           string
		first, total int64
		ok           bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes 0-0/1", 0, 1, true},
		{"bytes 100-199/150", 0, 0, false},
		{"bytes 200-100/300", 0, 0, false},
		{"bytes */200", 0, 0, false},
		{"bytes 1-2/*", 0, 0, false},
		{"items 1-2/3", 0, 0, false},
		{"bytes -1-2/3", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tc := range tests {
		first, total, ok := parseContentRange(tc.in)
		if first != tc.first || total != tc.total || ok != tc.ok {
			t.Errorf("parseContentRange(%q): got %d %d %v, want %d %d %v", tc.in, first, total, ok, tc.first, tc.total, tc.ok)
		}
	}
}

// FuzzParseContentRange: a Content-Range header comes from the network.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 100-199/200", "bytes 0-0/1", "bytes */200", "bytes 9223372036854775807-9223372036854775807/9223372036854775807", "bytes 1-2/3/4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, total, ok := parseContentRange(s)
		if ok && (first < 0 || first >= total) {
			t.Errorf("parseContentRange(%q) = %d, %d, true: first byte outside the object", s, first, total)
		}
	})
}

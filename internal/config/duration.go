package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration that reads and writes YAML as text such as
// "30s", "5m" or "720h". It also accepts a "d" suffix ("30d", "1d12h")
// because retention periods are naturally stated in days and time.Duration
// has no unit for them.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d the way MarshalYAML does.
func (d Duration) String() string {
	t := time.Duration(d)
	if t >= 24*time.Hour && t%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(t/(24*time.Hour)), 10) + "d"
	}
	return t.String()
}

// MarshalYAML writes d as text, in whole days when it is a multiple of a day.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML parses a duration string. A bare number is rejected rather
// than guessed at: "30" could mean seconds, minutes or days.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a duration such as 30s, 5m, 720h or 30d", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration is time.ParseDuration plus a leading day component:
// "30d", "1.5d" and "1d12h" are accepted.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("invalid duration %q: use a number with a unit, e.g. 30s, 5m, 720h or 30d", s)
	if s == "" {
		return 0, bad
	}
	days, rest, hasDays := strings.Cut(s, "d")
	if !hasDays {
		v, err := time.ParseDuration(s)
		if err != nil {
			return 0, bad
		}
		return v, nil
	}
	n, err := strconv.ParseFloat(days, 64)
	if err != nil || n < 0 || n > 100*365 {
		return 0, bad
	}
	total := time.Duration(n * float64(24*time.Hour))
	if rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, bad
		}
		v, err := time.ParseDuration(rest)
		if err != nil {
			return 0, bad
		}
		total += v
	}
	return total, nil
}

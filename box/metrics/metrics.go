// Package metrics counts what the box does and writes the counts in the
// Prometheus text exposition format (version 0.0.4).
//
// It is deliberately tiny: a box exposes a handful of counters and gauges,
// and a full client library would cost more binary size on a Raspberry Pi
// than it saves in code. Any package may import it; it imports only the
// standard library.
//
// A Registry and its metrics are safe for concurrent use.
package metrics

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds named metrics in the order they were registered.
// The zero value is ready to use.
type Registry struct {
	mu      sync.Mutex
	metrics []metric
}

type metric struct {
	name, help, kind string
	// labels is empty for an unlabelled metric.
	labelName string
	values    func() []sample
}

type sample struct {
	label string
	value float64
}

// Counter is a monotonically increasing count.
type Counter struct{ n atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.n.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.n.Add(n) }

// Value returns the current count.
func (c *Counter) Value() uint64 { return c.n.Load() }

// CounterVec is a family of counters told apart by the value of one label.
type CounterVec struct {
	mu sync.Mutex
	m  map[string]*Counter
}

// With returns the counter for one label value, creating it at zero.
func (v *CounterVec) With(label string) *Counter {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = make(map[string]*Counter)
	}
	c, ok := v.m[label]
	if !ok {
		c = new(Counter)
		v.m[label] = c
	}
	return c
}

func (v *CounterVec) samples() []sample {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]sample, 0, len(v.m))
	for label, c := range v.m {
		out = append(out, sample{label, float64(c.Value())})
	}
	slices.SortFunc(out, func(a, b sample) int { return strings.Compare(a.label, b.label) })
	return out
}

// NewCounter registers and returns a counter.
func (r *Registry) NewCounter(name, help string) *Counter {
	c := new(Counter)
	r.add(metric{name: name, help: help, kind: "counter", values: func() []sample {
		return []sample{{value: float64(c.Value())}}
	}})
	return c
}

// NewCounterVec registers and returns a counter family with one label.
func (r *Registry) NewCounterVec(name, help, label string) *CounterVec {
	v := new(CounterVec)
	r.add(metric{name: name, help: help, kind: "counter", labelName: label, values: v.samples})
	return v
}

// NewGaugeFunc registers a gauge whose value is read from f at each scrape.
func (r *Registry) NewGaugeFunc(name, help string, f func() float64) {
	r.add(metric{name: name, help: help, kind: "gauge", values: func() []sample {
		return []sample{{value: f()}}
	}})
}

func (r *Registry) add(m metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, old := range r.metrics {
		if old.name == m.name {
			panic("metrics: duplicate metric " + m.name)
		}
	}
	r.metrics = append(r.metrics, m)
}

// WriteTo writes every metric in the Prometheus text format.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	ms := slices.Clone(r.metrics)
	r.mu.Unlock()

	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", m.name, escapeHelp(m.help), m.name, m.kind)
		for _, s := range m.values() {
			b.WriteString(m.name)
			if m.labelName != "" {
				fmt.Fprintf(&b, "{%s=\"%s\"}", m.labelName, escapeLabel(s.label))
			}
			b.WriteByte(' ')
			b.WriteString(strconv.FormatFloat(s.value, 'g', -1, 64))
			b.WriteByte('\n')
		}
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

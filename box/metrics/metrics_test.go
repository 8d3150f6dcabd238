package metrics

import (
	"strings"
	"testing"
)

func TestWriteTo(t *testing.T) {
	var r Registry
	c := r.NewCounter("tiersbox_visitors_entered_total", "Visitors who pressed Enter.")
	v := r.NewCounterVec("tiersbox_http_requests_total", "HTTP requests by status code.", "code")
	r.NewGaugeFunc("tiersbox_up", "Always 1.", func() float64 { return 1 })
	c.Add(3)
	v.With("200").Inc()
	v.With("404").Add(2)
	v.With(`we"ird`).Inc()

	var b strings.Builder
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP tiersbox_visitors_entered_total Visitors who pressed Enter.
# TYPE tiersbox_visitors_entered_total counter
tiersbox_visitors_entered_total 3
# HELP tiersbox_http_requests_total HTTP requests by status code.
# TYPE tiersbox_http_requests_total counter
tiersbox_http_requests_total{code="200"} 1
tiersbox_http_requests_total{code="404"} 2
tiersbox_http_requests_total{code="we\"ird"} 1
# HELP tiersbox_up Always 1.
# TYPE tiersbox_up gauge
tiersbox_up 1
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDuplicatePanics(t *testing.T) {
	var r Registry
	r.NewCounter("a", "")
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	r.NewCounter("a", "")
}

package ulp

import (
	"math"
	"testing"
)

func TestErr32(t *testing.T) {
	one := float32(1)
	next := math.Nextafter32(one, 2)
	cases := []struct {
		got  float32
		want float64
		err  float64
	}{
		{1, 1, 0},
		{next, 1, 1},          // the float32 ULP in [1, 2) is 2^-23
		{1, 1 + 0x1p-24, 0.5}, // halfway: a correctly rounded result scores 0.5
		{float32(math.NaN()), math.NaN(), 0},
		{0, math.NaN(), math.Inf(1)},
		{float32(math.Inf(-1)), math.Inf(-1), 0},
		{float32(math.Inf(-1)), -1e39, 0}, // beyond float32's range, −Inf is the rounded value
		{3e-39, 1e-39, 0},                 // below 2^-126: no accuracy promise
		{1e-37, 1e-39, math.Inf(1)},       // but no large value either
	}
	for _, c := range cases {
		got := Err32(c.got, c.want)
		if got != c.err {
			t.Errorf("Err32(%g, %g) = %g, want %g", c.got, c.want, got, c.err)
		}
	}
	if e := Err64(1+0x1p-52, 1); e != 1 {
		t.Errorf("Err64(1+2^-52, 1) = %g, want 1", e)
	}
}

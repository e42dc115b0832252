package disk

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseChain(t *testing.T) {
	tests := []struct {
		spec    string
		want    Chain
		wantErr string
	}{
		{spec: "vhd:/srv/a.vhd", want: Chain{Image: Spec{"vhd", "/srv/a.vhd"}}},
		{spec: "nbd:unix:/run/x.sock", want: Chain{Image: Spec{"nbd", "unix:/run/x.sock"}}},
		{spec: "valve:rbps=20M,wbps=20M:vhd:/srv/a.vhd", want: Chain{
			Layers: []Layer{{"valve", "rbps=20M,wbps=20M"}}, Image: Spec{"vhd", "/srv/a.vhd"}}},
		{spec: "valve::ram:64M", want: Chain{Layers: []Layer{{"valve", ""}}, Image: Spec{"ram", "64M"}}},
		{spec: "delay:read=10ms:error:rate=0.5,errno=EAGAIN:valve::nbd:host:10809", want: Chain{
			Layers: []Layer{{"delay", "read=10ms"}, {"error", "rate=0.5,errno=EAGAIN"}, {"valve", ""}},
			Image:  Spec{"nbd", "host:10809"}}},
		{spec: "valve:rbps=1M", wantErr: "want valve:OPTIONS:TYPE:PATH"},
		{spec: "valve:rbps=1M:", wantErr: "under its filters"},
		{spec: "valve:rbps=1M:qcow:/a", wantErr: `unknown type "qcow"`},
		{spec: "qcow:/a", wantErr: `unknown type "qcow"`},
		{spec: "ram", wantErr: "want TYPE:PATH"},
	}
	for _, tt := range tests {
		got, err := ParseChain(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseChain(%q) = %v, %v; want an error with %q", tt.spec, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseChain(%q): %v", tt.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseChain(%q) = %+v; want %+v", tt.spec, got, tt.want)
		}
		if s := got.String(); s != tt.spec {
			t.Errorf("ParseChain(%q).String() = %q; want it back", tt.spec, s)
		}
	}
}

package alerting

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startNATS runs Debian's nats-server with JetStream on a free loopback
// port, requiring token.
func startNATS(t *testing.T, token string) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("nats-server is not installed (Debian package nats-server)")
	}
	addr := freeLoopbackAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(bin, "-a", host, "-p", port, "-js", "-sd", t.TempDir(), "--auth", token)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	logDone := make(chan string)
	go func() {
		var log strings.Builder
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Server is ready") {
				close(ready)
			}
		}
		logDone <- log.String()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-logDone
		_ = cmd.Wait()
	})
	select {
	case <-ready:
	case log := <-logDone:
		t.Fatalf("nats-server exited:\n%s", log)
	}
	return "nats://" + addr
}

func TestNATSDelivery(t *testing.T) {
	url := startNATS(t, "t0ken")
	nc, err := nats.Connect(url, nats.Token("t0ken"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()

	t.Run("core publish without a stream", func(t *testing.T) {
		sub, err := nc.SubscribeSync("logengine.core")
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, Options{})
		if _, err := e.m.CreateNotifier(ctx, Notifier{Name: "ops", Type: TypeNATS, URL: url, Subject: "logengine.core", Secret: "t0ken"}); err != nil {
			t.Fatal(err)
		}
		id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
		logs(3)(e, id)
		if !e.deliver("ops") {
			evs, _ := e.m.History(ctx, HistoryQuery{Rule: id})
			t.Fatalf("not delivered: %+v", evs)
		}
		msg, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var body webhookBody
		if err := json.Unmarshal(msg.Data, &body); err != nil {
			t.Fatalf("body %s: %v", msg.Data, err)
		}
		if body.Rule.ID != id || body.State != StateFiring || len(body.Sample) != 3 || msg.Header.Get(HeaderDelivery) != body.DeliveryID {
			t.Errorf("message %+v, headers %v", body, msg.Header)
		}
	})

	t.Run("jetstream publish is acknowledged and deduplicated", func(t *testing.T) {
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ALERTS", Subjects: []string{"logengine.js.>"}})
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, Options{})
		if _, err := e.m.CreateNotifier(ctx, Notifier{Name: "ops", Type: TypeNATS, URL: url, Subject: "logengine.js.alerts", Secret: "t0ken"}); err != nil {
			t.Fatal(err)
		}
		id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
		logs(3)(e, id)
		items := e.outbox()
		if len(items) != 1 {
			t.Fatalf("%d items in the outbox", len(items))
		}
		// A retry of the same delivery, as after a lost acknowledgement.
		e.m.mu.Lock()
		n := e.m.notifiers["ops"]
		e.m.mu.Unlock()
		for range 2 {
			if err := e.m.sendNATS(ctx, n, &items[0]); err != nil {
				t.Fatal(err)
			}
		}
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 1 {
			t.Errorf("the stream holds %d messages after a retried delivery, want 1", info.State.Msgs)
		}
		raw, err := stream.GetMsg(ctx, info.State.LastSeq)
		if err != nil {
			t.Fatal(err)
		}
		if raw.Header.Get(HeaderDelivery) != items[0].ID || !strings.Contains(string(raw.Data), `"state":"firing"`) {
			t.Errorf("stored message %s, headers %v", raw.Data, raw.Header)
		}
	})

	t.Run("wrong token is retried", func(t *testing.T) {
		e := newEnv(t, Options{})
		if _, err := e.m.CreateNotifier(ctx, Notifier{Name: "ops", Type: TypeNATS, URL: url, Subject: "logengine.core", Secret: "wrong"}); err != nil {
			t.Fatal(err)
		}
		id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
		logs(3)(e, id)
		if e.deliver("ops") {
			t.Fatal("delivered with a wrong token")
		}
		if len(e.outbox()) != 1 {
			t.Error("the failed notification left the outbox")
		}
		evs, _ := e.m.History(ctx, HistoryQuery{Rule: id})
		if len(evs) != 2 || !strings.Contains(strings.ToLower(evs[1].Error), "authorization") {
			t.Errorf("history %+v", evs)
		}
	})
}

func TestNATSNotifierValidation(t *testing.T) {
	ok := Notifier{Name: "q", Type: TypeNATS, URL: "nats://nats.example.com:4222", Subject: "logengine.alerts"}
	tests := []struct {
		name    string
		edit    func(n *Notifier)
		wantErr string
	}{
		{"valid", func(*Notifier) {}, ""},
		{"tls", func(n *Notifier) { n.URL = "tls://nats.example.com:4222" }, ""},
		{"http url", func(n *Notifier) { n.URL = "http://nats.example.com" }, "must be nats://host:4222"},
		{"no subject", func(n *Notifier) { n.Subject = "" }, "subject: missing"},
		{"wildcard subject", func(n *Notifier) { n.Subject = "alerts.>" }, "without spaces or wildcards"},
		{"username without password", func(n *Notifier) { n.Username = "u" }, "secret: missing"},
		{"to is for email", func(n *Notifier) { n.To = []string{"a@example.com"} }, "to: only email notifiers take it"},
		{"host not allowed", func(n *Notifier) {}, "not among the allowed notifier hosts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := ok
			tt.edit(&n)
			policy := HostPolicy{}
			if tt.name == "host not allowed" {
				policy.Allowed = []string{"*.internal"}
			}
			err := n.normalize(policy)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one with %q", err, tt.wantErr)
			}
		})
	}
}

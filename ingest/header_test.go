package ingest

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// TestTextHeaderShapes: the time and the level are found wherever the
// header of a widely used logger or runtime puts them, and the message
// starts after what was recognised. The lines are written for this test
// in each logger's default or common layout.
func TestTextHeaderShapes(t *testing.T) {
	const none = storage.Level(0)
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	ms := at.Add(123 * time.Millisecond)
	us := at.Add(123456 * time.Microsecond)
	ns := at.Add(123456789)
	// Stamps without a year take testNow's (2026).
	noYear := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		line  string
		time  time.Time
		level storage.Level // none: no level
		msg   string        // what the message starts with
	}{
		// Python logging and OpenStack's oslo.log.
		{"python default", "2024-03-01 12:00:00,123 - billing.worker - WARNING - retry 3 of 5", ms, storage.LevelWarn, "retry 3 of 5"},
		{"python level then name", "2024-03-01 12:00:00,123 WARNING billing.worker: retry", ms, storage.LevelWarn, "billing.worker: retry"},
		{"python name in brackets", "2024-03-01 12:00:00,123 [billing.worker] ERROR: card declined", ms, storage.LevelError, "card declined"},
		{"python pid and logger", "2024-03-01 12:00:00,123 4711 billing.worker CRITICAL ledger out of balance", ms, storage.LevelFatal, "ledger out of balance"},
		{"airflow", "[2024-03-01 12:00:00,123] {taskinstance.py:1234} ERROR - Task failed with exception", ms, storage.LevelError, "Task failed with exception"},
		{"gunicorn", "[2024-03-01 12:00:00 +0000] [4711] [INFO] Booting worker with pid: 4712", at, storage.LevelInfo, "Booting worker with pid: 4712"},
		{"gunicorn zone east", "[2024-03-01 13:00:00 +0100] [4711] [ERROR] Worker timeout", at, storage.LevelError, "Worker timeout"},
		{"django runserver", `[01/Mar/2024 12:00:00] "GET /health HTTP/1.1" 200 2`, at, none, `"GET /health`},
		{"oslo error", "2024-03-01 12:00:00.123 4711 ERROR nova.compute.manager [req-9f2c - - - - -] [instance: 42] boom", ms, storage.LevelError, "nova.compute.manager [req-9f2c"},
		{"oslo warning", "2024-03-01 12:00:00.123 4711 WARNING oslo_messaging._drivers.amqpdriver [-] timeout", ms, storage.LevelWarn, "oslo_messaging._drivers.amqpdriver [-] timeout"},
		{"oslo request ids", "2024-03-01 12:00:00.123 4711 ERROR svc.api.handler [req-9f2c user-7] upstream reset", ms, storage.LevelError, "svc.api.handler [req-9f2c user-7] upstream reset"},
		// log4j, logback and the Java servers that use them.
		{"logback thread", "2024-03-01 12:00:00,123 [http-nio-8080-exec-7] ERROR com.acme.OrderService - timeout", ms, storage.LevelError, "com.acme.OrderService - timeout"},
		{"logback default", "2024-03-01 12:00:00.123 [main] INFO  c.a.App - started", ms, storage.LevelInfo, "c.a.App - started"},
		{"log4j bracketed level", "2024-03-01 12:00:00,123 [main] [INFO ] org.example.App - started", ms, storage.LevelInfo, "org.example.App - started"},
		{"log4j level first", "2024-03-01 12:00:00,123 INFO [main] started", ms, storage.LevelInfo, "[main] started"},
		{"log4j thread and pool", "2024-03-01 12:00:00.123 [worker-3] (pool-1) WARN  c.e.Cache: evicted", ms, storage.LevelWarn, "c.e.Cache: evicted"},
		{"logback line number", "2024-03-01 12:00:00.123 [pool-1-thread-3] DEBUG c.a.Cache:42 - miss", ms, storage.LevelDebug, "c.a.Cache:42 - miss"},
		{"MDC in brackets", "2024-03-01 12:00:00,123 [http-nio-8080-exec-1] [traceId=4bf92f35 spanId=00f067aa] WARN c.a.Svc - slow", ms, storage.LevelWarn, "c.a.Svc - slow"},
		{"MDC in braces", "2024-03-01 12:00:00,123 {user=alice, req=42} [main] ERROR c.a.Svc - boom", ms, storage.LevelError, "c.a.Svc - boom"},
		{"MDC pairs", "2024-03-01 12:00:00,123 trace=4bf92f35 span=00f067aa [main] WARN c.a.Svc - slow", ms, storage.LevelWarn, "c.a.Svc - slow"},
		{"spring boot 2", "2024-03-01 12:00:00.123  INFO 4711 --- [           main] c.a.App                                  : Started App", ms, storage.LevelInfo, "4711 --- ["},
		{"spring boot 3", "2024-03-01T13:00:00.123+01:00  WARN 4711 --- [myapp] [           main] c.a.App : slow", ms, storage.LevelWarn, "4711 --- [myapp]"},
		{"wildfly", "2024-03-01 12:00:00,123 ERROR [org.jboss.as] (MSC service thread 1-2) WFLYSRV0026: failed", ms, storage.LevelError, "[org.jboss.as] (MSC"},
		{"tomcat catalina", "01-Mar-2024 12:00:00.123 WARNING [main] org.apache.catalina.startup.Catalina.load slow", ms, storage.LevelWarn, "[main] org.apache.catalina"},
		{"zookeeper", "2024-03-01 12:00:00,123 [myid:1] - WARN  [QuorumPeer[myid=1](plain=0.0.0.0:2181):QuorumPeer@1234] - Unexpected exception", ms, storage.LevelWarn, "[QuorumPeer[myid=1]"},
		{"elasticsearch", "[2024-03-01T12:00:00,123][WARN ][o.e.c.r.a.DiskThresholdMonitor] [node-1] high disk watermark exceeded", ms, storage.LevelWarn, "[o.e.c.r.a.DiskThresholdMonitor]"},
		{"cassandra level first", "WARN  [main] 2024-03-01 12:00:00,123 StartupChecks.java:123 - jemalloc not found", ms, storage.LevelWarn, "StartupChecks.java:123 - jemalloc"},
		{"jenkins tabs", "2024-03-01 12:00:00.123+0000 [id=42]\tWARNING\thudson.model.Run#execute: aborted", ms, storage.LevelWarn, "hudson.model.Run#execute: aborted"},
		// Go's log package, slog and the common Go loggers.
		{"go log", "2024/03/01 12:00:00 listening on :8080", at, none, "listening on :8080"},
		{"go log microseconds and file", "2024/03/01 12:00:00.123456 main.go:42: listening", us, none, "main.go:42: listening"},
		{"go log prefix", "myapp: 2024/03/01 12:00:00 main.go:42: listening", at, none, "main.go:42: listening"},
		{"go log bracketed level", "2024/03/01 12:00:00 [ERROR] db: timeout", at, storage.LevelError, "db: timeout"},
		{"slog text", `time=2024-03-01T12:00:00.000Z level=WARN msg="disk almost full" used=93`, at, storage.LevelWarn, "disk almost full"},
		{"logrus text", `time="2024-03-01T12:00:00Z" level=error msg="boom" component=db`, at, storage.LevelError, "boom"},
		{"zap console", "2024-03-01T12:00:00.123Z\tERROR\tapi/handler.go:42\tupstream reset", ms, storage.LevelError, "api/handler.go:42\tupstream reset"},
		{"zerolog console", "2024-03-01T12:00:00Z WRN disk almost full used=93", at, storage.LevelWarn, "disk almost full"},
		{"hclog (consul, vault)", "2024-03-01T12:00:00.123Z [WARN]  agent: Check is now critical: check=web", ms, storage.LevelWarn, "agent: Check is now critical"},
		// Web servers.
		{"nginx error", "2024/03/01 12:00:00 [error] 12#12: *5 connect() failed", at, storage.LevelError, "12#12: *5 connect() failed"},
		{"apache 2.4 error", "[Fri Mar 01 12:00:00.123456 2024] [proxy:error] [pid 4711:tid 140] [client 10.0.0.1:5000] AH00898: Error", us, storage.LevelError, "[pid 4711:tid 140]"},
		{"apache 2.2 error", "[Fri Mar 01 12:00:00 2024] [notice] Apache configured", at, storage.LevelInfo, "Apache configured"},
		{"apache access", `10.0.0.1 - - [01/Mar/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 512`, at, storage.LevelInfo, "10.0.0.1 - - ["},
		// Container runtimes (CRI log format) and Kubernetes.
		{"cri nginx", "2024-03-01T12:00:00.123Z stderr F 2024/03/01 12:00:00 [error] 12#12: *5 connect() failed", ms, storage.LevelError, "12#12: *5"},
		{"cri plain", "2024-03-01T12:00:00.123456789Z stdout F hello world", ns, none, "hello world"},
		{"cri partial", "2024-03-01T12:00:00.123456789Z stderr P partial line", ns, none, "partial line"},
		{"cri level", "2024-03-01T12:00:00.123Z stdout P INFO partial line", ms, storage.LevelInfo, "partial line"},
		{"cri klog", "2024-03-01T12:00:00.123456789Z stderr F E0301 12:00:00.123456       1 reflector.go:138] watch failed", ns, storage.LevelError, "1 reflector.go:138] watch failed"},
		{"klog error", "E0301 12:00:00.123456    4711 reflector.go:138] watch failed", noYear.Add(123456 * time.Microsecond), storage.LevelError, "4711 reflector.go:138] watch failed"},
		{"klog info", "I0301 12:00:00.123456       1 leaderelection.go:248] attempting to acquire leader lease", noYear.Add(123456 * time.Microsecond), storage.LevelInfo, "1 leaderelection.go:248]"},
		// systemd journal exports (journalctl -o ...) and syslog files.
		{"journal short-iso", "2024-03-01T13:00:00+0100 web-1 sshd[4711]: Accepted publickey for alice", at, none, "web-1 sshd[4711]: Accepted"},
		{"journal short-precise", "Mar 01 12:00:00.123456 web-1 systemd[1]: Started Session 42.", noYear.Add(123456 * time.Microsecond), none, "web-1 systemd[1]: Started"},
		{"journal short-unix", "1709294400.123456 web-1 kernel: usb 1-1: new device", us, none, "web-1 kernel: usb"},
		{"journal level in message", "2024-03-01T12:00:00+0000 web-1 app[4711]: ERROR: disk full", at, storage.LevelError, "disk full"},
		{"journal bracketed level", "2024-03-01T12:00:00.123456+00:00 web-1 kernel: [WARN] thermal throttling", us, storage.LevelWarn, "thermal throttling"},
		{"syslog file", "Mar  1 12:00:00 web-1 sshd[4711]: error: PAM: Authentication failure", noYear, storage.LevelError, "PAM: Authentication failure"},
		{"dmesg -T", "[Fri Mar  1 12:00:00 2024] usb 1-1: new high-speed USB device", at, none, "usb 1-1: new"},
		// Databases.
		{"postgresql log", "2024-03-01 12:00:00.123 UTC [4711] LOG:  checkpoint starting: time", ms, storage.LevelInfo, "checkpoint starting: time"},
		{"postgresql error", `2024-03-01 12:00:00.123 UTC [4711] ERROR:  relation "x" does not exist`, ms, storage.LevelError, `relation "x" does not exist`},
		{"postgresql user and db", "2024-03-01 12:00:00 UTC [4711-1] alice@shop FATAL:  password authentication failed", at, storage.LevelFatal, "password authentication failed"},
		{"postgresql warning", "2024-03-01 12:00:00.123 UTC [4711] WARNING:  there is no transaction in progress", ms, storage.LevelWarn, "there is no transaction"},
		{"mysql 8 warning", "2024-03-01T12:00:00.123456Z 0 [Warning] [MY-010068] [Server] CA certificate ca.pem is self signed.", us, storage.LevelWarn, "[MY-010068] [Server] CA"},
		{"mysql 8 error", "2024-03-01T12:00:00.123456Z 8 [ERROR] [MY-010584] [Repl] Replica I/O: error connecting", us, storage.LevelError, "[MY-010584] [Repl]"},
		{"mysql 8 system", "2024-03-01T12:00:00.123456Z 0 [System] [MY-010116] [Server] /usr/sbin/mysqld starting", us, storage.LevelInfo, "[MY-010116] [Server]"},
		{"mysql 5.6 note", "2024-03-01 12:00:00 4711 [Note] InnoDB: Buffer pool(s) load completed", at, storage.LevelInfo, "InnoDB: Buffer pool(s)"},
		{"redis notice", "4711:M 01 Mar 2024 12:00:00.123 * Ready to accept connections tcp", ms, none, "* Ready to accept"},
		{"redis warning", "4711:C 01 Mar 2024 12:00:00.123 # Warning: no config file specified", ms, storage.LevelWarn, "no config file specified"},
		{"mongodb legacy", "2024-03-01T12:00:00.123+0000 I NETWORK  [conn42] end connection 10.0.0.1:5000", ms, none, "I NETWORK"},
		{"elasticsearch slow log", "[2024-03-01T12:00:00,123][INFO ][index.search.slowlog.query] [node-1] [logs][0] took[1.2s]", ms, storage.LevelInfo, "[index.search.slowlog.query]"},
		// Message brokers.
		{"rabbitmq 3.9", "2024-03-01 12:00:00.123456+00:00 [warning] <0.1234.0> closing AMQP connection", us, storage.LevelWarn, "<0.1234.0> closing"},
		{"rabbitmq 3.7", "2024-03-01 12:00:00.123 [info] <0.123.0> Server startup complete", ms, storage.LevelInfo, "<0.123.0> Server"},
		{"kafka", "[2024-03-01 12:00:00,123] WARN [ReplicaFetcher replicaId=1, leaderId=2, fetcherId=0] Error in response (kafka.server.ReplicaFetcherThread)", ms, storage.LevelWarn, "[ReplicaFetcher replicaId=1"},
		{"kafka info", "[2024-03-01 12:00:00,123] INFO [KafkaServer id=1] started (kafka.server.KafkaServer)", ms, storage.LevelInfo, "[KafkaServer id=1] started"},
		{"activemq", "2024-03-01 12:00:00,123 | WARN  | Transport Connection failed | org.apache.activemq.broker.TransportConnection.Transport | ActiveMQ Transport", ms, storage.LevelWarn, "Transport Connection failed"},
		{"nats", "[4711] 2024/03/01 12:00:00.123456 [WRN] Slow consumer detected", us, storage.LevelWarn, "Slow consumer detected"},
		// Proxies and load balancers.
		{"haproxy http log", "Mar  1 12:00:00 lb1 haproxy[4711]: 10.0.0.1:5000 [01/Mar/2024:12:00:00.123] fe be/srv 0/0/1/2/3 200 512", ms, none, "fe be/srv"},
		{"haproxy alert", "Mar 01 12:00:00 lb1 haproxy[4711]: [WARNING]  (4711) : Server be/srv1 is DOWN", noYear, storage.LevelWarn, "(4711) : Server be/srv1"},
		{"envoy", "[2024-03-01 12:00:00.123][4711][warning][config] [source/common/config/grpc_stream.h:101] gRPC config stream closed", ms, storage.LevelWarn, "[config] [source/common"},
		{"envoy access", `[2024-03-01T12:00:00.123Z] "GET /api HTTP/1.1" 503 UF 0 91 1 - "-" "curl/8.5.0"`, ms, none, `"GET /api`},
		{"traefik v2", `time="2024-03-01T12:00:00Z" level=error msg="Error while starting server" entryPointName=web`, at, storage.LevelError, "Error while starting server"},
		{"traefik v3", `2024-03-01T12:00:00Z ERR Error while starting server error="listen tcp :80: bind" entryPointName=web`, at, storage.LevelError, "Error while starting"},
		{"squid", "1709294400.123     42 10.0.0.1 TCP_MISS/200 512 GET http://example.com/ - HIER_DIRECT/10.0.0.2 text/html", ms, none, "42 10.0.0.1 TCP_MISS/200"},
		// Batch schedulers and cluster managers.
		{"slurmctld error", "[2024-03-01T12:00:00.123] error: Nodes n[1-4] not responding", ms, storage.LevelError, "Nodes n[1-4] not responding"},
		{"slurmctld info", "[2024-03-01T12:00:00.123] _slurm_rpc_submit_batch_job: JobId=42 InitPrio=4294901759", ms, none, "_slurm_rpc_submit_batch_job: JobId=42"},
		{"slurmd step", "[2024-03-01T12:00:00.123] [42.batch] error: Detected 1 oom-kill event(s)", ms, storage.LevelError, "Detected 1 oom-kill"},
		{"yarn resourcemanager", "2024-03-01 12:00:00,123 INFO org.apache.hadoop.yarn.server.resourcemanager.ResourceManager: Transitioned to active state", ms, storage.LevelInfo, "org.apache.hadoop.yarn"},
		{"hadoop mapreduce", "2024-03-01 12:00:00,123 WARN [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: slow", ms, storage.LevelWarn, "[main] org.apache.hadoop"},
		{"spark", "24/03/01 12:00:00 WARN TaskSetManager: Lost task 0.0 in stage 1.0", at, storage.LevelWarn, "TaskSetManager: Lost task"},
		{"spark fraction", "24/03/01 12:00:00.123 INFO SparkContext: Running Spark version 3.5.0", ms, storage.LevelInfo, "SparkContext: Running"},
		// Mobile and desktop applications.
		{"logcat threadtime", "03-01 12:00:00.123  1702  2395 W ActivityManager: Slow operation", noYear.Add(123 * time.Millisecond), storage.LevelWarn, "ActivityManager: Slow operation"},
		{"logcat threadtime with year", "2024-03-01 12:00:00.123  1702  2395 E AndroidRuntime: FATAL EXCEPTION: main", ms, storage.LevelError, "AndroidRuntime: FATAL"},
		{"logcat time", "03-01 12:00:00.123 D/ConnectivityService( 1702): notifyType CAP_CHANGED", noYear.Add(123 * time.Millisecond), storage.LevelDebug, "ConnectivityService( 1702): notifyType"},
		{"macos log show", "2024-03-01 13:00:00.123456+0100 0x1a2b3c   Error       0x0                  4711   0    backupd: (CoreFoundation) failed", us, storage.LevelError, "0x0"},
		{"ios device syslog", "Mar  1 12:00:00 Alices-iPhone SpringBoard(FrontBoard)[57] <Notice>: Application launched", noYear, storage.LevelInfo, "Application launched"},
		{"vs code", "2024-03-01 12:00:00.123 [error] [window] Extension host terminated", ms, storage.LevelError, "[window] Extension host"},
		// Prefixes before the time.
		{"host first", "app-3 2024-03-01T12:00:00Z kernel: [WARN] thermal throttling", at, storage.LevelWarn, "thermal throttling"},
		{"host first plain level", "web-1 2024-03-01 12:00:00 ERROR upstream reset", at, storage.LevelError, "upstream reset"},
		{"thread first", "[worker-2] 2024-03-01 12:00:00,123 INFO ready", ms, storage.LevelInfo, "ready"},
		{"path first", "node/a.b 2024-03-01T12:00:00.123Z error: boom", ms, storage.LevelError, "boom"},
		{"record number first", "12345 2024-03-01 12:00:00 WARNING low memory", at, storage.LevelWarn, "low memory"},
		{"two fields first", "host-1 app-2 2024-03-01T12:00:00Z started", at, none, "started"},
		{"dash first", "- 2024-03-01T12:00:00Z ERROR boom", at, storage.LevelError, "boom"},
		{"file name glued", "app.log:2024-03-01 12:00:00 ERROR boom", at, storage.LevelError, "boom"},
		// Separators and ids.
		{"pipes", "2024-03-01 12:00:00 | db.pool | CRITICAL | exhausted", at, storage.LevelFatal, "exhausted"},
		{"double dashes", "2024-03-01 12:00:00 -- main.go:42 -- DEBUG -- tick", at, storage.LevelDebug, "tick"},
		{"three ids", "2024-03-01 12:00:00 1234 5678 8765 ERROR three ids", at, storage.LevelError, "three ids"},
		{"host and tag", "2024-03-01T12:00:00Z host-7 app[1234]: ERROR: disk full", at, storage.LevelError, "disk full"},
		{"host and bracketed level", "2024-03-01T12:00:00Z web-1 nginx: [warn] upstream slow", at, storage.LevelWarn, "upstream slow"},
		{"minecraft style", "[2024-03-01 12:00:00] [Server thread/WARN]: Can't keep up!", at, storage.LevelWarn, "Can't keep up!"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		if seen[tt.name] {
			t.Fatalf("two cases named %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			tl := ParseTextLine(tt.line, testNow)
			if !tl.HasTime || !tl.Time.Equal(tt.time) {
				t.Errorf("time %v (%v), want %v", tl.Time, tl.HasTime, tt.time)
			}
			if (tt.level != none) != tl.HasLevel || tl.HasLevel && tl.Level != tt.level {
				t.Errorf("level %v (%v), want %v", tl.Level, tl.HasLevel, tt.level)
			}
			if !strings.HasPrefix(tl.Message, tt.msg) {
				t.Errorf("message %q, want it to start with %q", tl.Message, tt.msg)
			}
		})
	}
	if len(tests) < 80 {
		t.Errorf("%d shapes; keep at least 80", len(tests))
	}
}

// TestTextHeaderFalsePositives: a time or a level word that the message
// mentions is not the line's, whether the header has one or not.
func TestTextHeaderFalsePositives(t *testing.T) {
	const none = storage.Level(0)
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		line  string
		time  time.Time // zero: none found
		level storage.Level
		msg   string // the message, whole
	}{
		{"2024-03-01T12:00:00Z user says error is fine", at, none, "user says error is fine"},
		{"2024-03-01T12:00:00Z GET /api ERROR 500", at, none, "GET /api ERROR 500"},
		{"2024-03-01T12:00:00Z connection closed. ERROR follows", at, none, "connection closed. ERROR follows"},
		{"2024-03-01T12:00:00Z the job failed: see WARN above", at, none, "the job failed: see WARN above"},
		{"2024-03-01T12:00:00Z job 42 retried at 12:00:00 returned ERROR code 5", at, none, "job 42 retried at 12:00:00 returned ERROR code 5"},
		{"2024-03-01T12:00:00Z 5 users logged in", at, none, "5 users logged in"},
		{"2024-03-01T12:00:00Z 4711 4712 tasks ERROR", at, none, "4711 4712 tasks ERROR"},
		{"2024-03-01T12:00:00Z worker-3: Error handling request", at, none, "worker-3: Error handling request"},
		{"2024-03-01T12:00:00Z web-1 deploy of build-7 finished at 2023-01-01 00:00:00 ERROR free", at, none, "web-1 deploy of build-7 finished at 2023-01-01 00:00:00 ERROR free"},
		{"2024-03-01T12:00:00Z host-1 2023-01-01T00:00:00Z ERROR stale", at, storage.LevelError, "stale"},
		{"Mar  1 12:00:00 host app: started 2024-02-01 10:00:00 backup", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), none, "host app: started 2024-02-01 10:00:00 backup"},
		{"user alice logged in at 2024-03-01T12:00:00Z", time.Time{}, none, "user alice logged in at 2024-03-01T12:00:00Z"},
		{"retry later, ERROR 2024-03-01 12:00:00", time.Time{}, none, "retry later, ERROR 2024-03-01 12:00:00"},
		{"Deploy finished at 2024-03-01 12:00:00 with WARN", time.Time{}, none, "Deploy finished at 2024-03-01 12:00:00 with WARN"},
		{"ERROR payment failed at 2024-03-01 12:00:00", time.Time{}, storage.LevelError, "payment failed at 2024-03-01 12:00:00"},
		{"just a message", time.Time{}, none, "just a message"},
		{"a b c d e f g h 2024-03-01T12:00:00Z", time.Time{}, none, "a b c d e f g h 2024-03-01T12:00:00Z"},
		{"[12345.678901] usb 1-1: new device", time.Time{}, none, "[12345.678901] usb 1-1: new device"},
		{"a-1 b-2 c-3 d-4 e-5 f-6 g-7 2024-03-01T12:00:00Z late", time.Time{}, none, "a-1 b-2 c-3 d-4 e-5 f-6 g-7 2024-03-01T12:00:00Z late"},
		{"order 2024-03-01 shipped 12:00:00", time.Time{}, none, "order 2024-03-01 shipped 12:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			tl := ParseTextLine(tt.line, testNow)
			if tt.time.IsZero() != !tl.HasTime || tl.HasTime && !tl.Time.Equal(tt.time) {
				t.Errorf("time %v (%v), want %v", tl.Time, tl.HasTime, tt.time)
			}
			if (tt.level != none) != tl.HasLevel || tl.HasLevel && tl.Level != tt.level {
				t.Errorf("level %v (%v), want %v", tl.Level, tl.HasLevel, tt.level)
			}
			if tl.Message != tt.msg {
				t.Errorf("message %q, want %q", tl.Message, tt.msg)
			}
		})
	}
}

// TestTextHeaderProperty builds lines from header fields in random order
// around a time and a level, followed by a message of prose that mentions
// levels and times, and checks that the header's time and level are found.
func TestTextHeaderProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 3))
	at := time.Date(2024, 3, 1, 12, 0, 0, 123_000_000, time.UTC)
	times := []string{"2024-03-01T12:00:00.123Z", "2024-03-01 12:00:00,123", "2024-03-01 12:00:00.123", "[2024-03-01 12:00:00.123]"}
	before := []string{"app-3", "web-1", "[worker-2]", "node/a.b", "12345"}
	between := []string{"-", "|", "4711", "[http-nio-8080-exec-7]", "billing.worker", "kernel:", "host-7", "app[1234]:", "(pool-1)", "stderr F"}
	levels := []struct {
		text  string
		level storage.Level
	}{{"ERROR", storage.LevelError}, {"WARNING", storage.LevelWarn}, {"[warn]", storage.LevelWarn}, {"INFO", storage.LevelInfo},
		{"DEBUG", storage.LevelDebug}, {"[error]", storage.LevelError}, {"error:", storage.LevelError}, {"CRITICAL", storage.LevelFatal}}
	prose := []string{"the", "job", "error", "failed", "warning", "retried", "at", "12:00:00", "returned", "ERROR", "code", "5", "user", "debug"}
	for i := range 2000 {
		var b strings.Builder
		if rng.IntN(3) == 0 {
			b.WriteString(before[rng.IntN(len(before))] + " ")
		}
		b.WriteString(times[rng.IntN(len(times))] + " ")
		for range rng.IntN(3) {
			b.WriteString(between[rng.IntN(len(between))] + " ")
		}
		lv := levels[rng.IntN(len(levels))]
		b.WriteString(lv.text + " ")
		b.WriteString("msg") // a plain word first: the header ends here
		for range 1 + rng.IntN(8) {
			b.WriteString(" " + prose[rng.IntN(len(prose))])
		}
		line := b.String()
		tl := ParseTextLine(line, testNow)
		if !tl.HasTime || !tl.Time.Equal(at) || !tl.HasLevel || tl.Level != lv.level {
			t.Fatalf("line %d %q: time %v (%v) level %v (%v), want %v and %v", i, line, tl.Time, tl.HasTime, tl.Level, tl.HasLevel, at, lv.level)
		}
		if !strings.Contains(tl.Message, "msg") {
			t.Fatalf("line %d %q: message %q lost the text", i, line, tl.Message)
		}
	}
}

// TestTextHeaderPrefersDatedTime: of several times in a header, the one
// written with a full date and a clock is kept; among equals, the first.
// The others stay in the header text.
func TestTextHeaderPrefersDatedTime(t *testing.T) {
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		line   string
		time   time.Time
		header string
		msg    string
	}{
		{"dated after syslog", "Mar  1 11:00:00 lb1 haproxy[4711]: 10.0.0.1:5000 [01/Mar/2024:12:00:00] fe be/srv 200",
			at, "Mar  1 11:00:00 lb1 haproxy[4711]: 10.0.0.1:5000", "fe be/srv 200"},
		{"dated after epoch", "1709290800 host-1 2024-03-01T12:00:00Z ERROR x", at, "1709290800 host-1", "x"},
		{"dated after logcat", "03-01 11:00:00.000 web-1 2024-03-01 12:00:00 INFO x", at, "03-01 11:00:00.000 web-1", "x"},
		{"dated before syslog", "2024-03-01T12:00:00Z web-1 Mar  1 11:00:00 INFO x", at, "web-1 Mar  1 11:00:00", "x"},
		{"two dated: the first", "2024-03-01T12:00:00Z stderr F 2024/03/01 11:00:00 [error] x", at, "stderr F 2024/03/01 11:00:00", "x"},
		{"syslog before epoch", "Mar  1 12:00:00 web-1 1709290800 ERROR x", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "web-1 1709290800", "x"},
		{"dated after prefix and epoch", "host-1 1709290800 2024-03-01T12:00:00Z WARN x", at, "host-1 1709290800", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := ParseTextLine(tt.line, testNow)
			if !tl.HasTime || !tl.Time.Equal(tt.time) {
				t.Errorf("time %v (%v), want %v", tl.Time, tl.HasTime, tt.time)
			}
			if tl.Header != tt.header || tl.Message != tt.msg {
				t.Errorf("header %q message %q, want %q %q", tl.Header, tl.Message, tt.header, tt.msg)
			}
		})
	}
}

// TestTextHeaderKept: what the walk passed over to reach the time and the
// level is kept: numbers between them as pid and tid, the rest as the
// header, stored as a field unless the limits leave no room for it.
func TestTextHeaderKept(t *testing.T) {
	tests := []struct {
		line   string
		header string
		fields map[string]any
	}{
		{"2024-03-01 12:00:00,123 [http-nio-8080-exec-7] ERROR com.acme.OrderService - timeout", "[http-nio-8080-exec-7]", map[string]any{}},
		{"2024-03-01 12:00:00,123 - billing.worker - WARNING - retry", "billing.worker", map[string]any{}},
		{"app-3 2024-03-01T12:00:00Z kernel: [WARN] thermal throttling", "app-3 kernel:", map[string]any{}},
		{"2024-03-01 12:00:00.123 UTC [4711] LOG:  checkpoint", "", map[string]any{"pid": int64(4711)}},
		{"2024-03-01 12:00:00 1234 5678 8765 ERROR three ids", "8765", map[string]any{"pid": int64(1234), "tid": int64(5678)}},
		{"2024-03-01 12:00:00 [main] 1234 WARN x", "[main]", map[string]any{"pid": int64(1234)}},
		{"2024-03-01T12:00:00Z stdout F hello", "stdout F", map[string]any{}},
		{"host-1 2024-03-01T12:00:00Z 4711 started", "host-1", map[string]any{}},
		{"2024-03-01T12:00:00Z 5 users logged in", "", map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			tl := ParseTextLine(tt.line, testNow)
			if tl.Header != tt.header {
				t.Errorf("header %q, want %q", tl.Header, tt.header)
			}
			if got := fieldMap(storage.Entry{Fields: tl.Fields}); !reflect.DeepEqual(got, tt.fields) {
				t.Errorf("fields %v, want %v", got, tt.fields)
			}
		})
	}

	d := testDefaults()
	line := "2024-03-01 12:00:00 [main] 1234 5678 ERROR x"
	rs := DecodeText([]byte(line), d, Limits{})
	want := map[string]any{"pid": int64(1234), "tid": int64(5678), "header": "[main]"}
	if got := fieldMap(rs[0].Entry); rs[0].Err != nil || !reflect.DeepEqual(got, want) || rs[0].Entry.Message != "x" {
		t.Errorf("entry %+v (%v), fields %v, want %v", rs[0].Entry, rs[0].Err, got, want)
	}
	// Fields a walked header yields are left out, not the line rejected,
	// when the limits leave no room for them.
	rs = DecodeText([]byte(line), d, Limits{MaxFields: 1, MaxValueBytes: 4})
	if got := fieldMap(rs[0].Entry); rs[0].Err != nil || !reflect.DeepEqual(got, map[string]any{"pid": int64(1234)}) {
		t.Errorf("tight limits: %+v (%v), fields %v", rs[0].Entry, rs[0].Err, got)
	}
}

// TestStampRank: stampRank follows parseLeadingTime's choice of form, so
// every form it recognises is ranked by how much of the moment it writes.
func TestStampRank(t *testing.T) {
	tests := []struct {
		stamp string
		rank  int
	}{
		{"2024-03-01T12:00:00Z", rankDated},
		{"2024/03/01 12:00:00", rankDated},
		{"[2024-03-01 12:00:00,123]", rankDated},
		{"081109 203615", rankDated},
		{"17/06/09 20:10:40", rankDated},
		{"[10/Oct/2000:13:55:36 -0700]", rankDated},
		{"[Sun Dec 04 04:47:44 2005]", rankDated},
		{"Sun Dec  4 04:47:44 2005", rankDated},
		{"01 Mar 2024 12:00:00", rankDated},
		{"Jun 14 15:16:01", rankNoYear},
		{"Jun  4 15:16:01", rankNoYear},
		{"03-17 16:13:38.811", rankNoYear},
		{"1709294400", rankEpoch},
		{"1709294400.123", rankEpoch},
		{"1709294400123", rankEpoch},
	}
	for _, tt := range tests {
		_, end, rank, _, ok := parseHeaderTime(tt.stamp+" x", testNow)
		if !ok || end != len(tt.stamp) || rank != tt.rank {
			t.Errorf("%q: end %d rank %d (%v), want %d %d", tt.stamp, end, rank, ok, len(tt.stamp), tt.rank)
		}
	}
}

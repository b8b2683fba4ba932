package ingest

import (
	"reflect"
	"testing"

	"github.com/logengine/logengine/storage"
)

// userAgentCases are real agents as browsers, clients and crawlers send
// them, with what the useragent step should read from each. The README's
// comparison of parsers is made on this table.
var userAgentCases = []struct {
	name string
	ua   string
	want userAgent
}{
	{"Chrome on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		userAgent{Browser: "Chrome", BrowserVersion: "131.0.0.0", OS: "Windows", OSVersion: "10", Device: "Desktop"}},
	{"Edge on Windows 7", "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36 Edg/109.0.1518.140",
		userAgent{Browser: "Edge", BrowserVersion: "109.0.1518.140", OS: "Windows", OSVersion: "7", Device: "Desktop"}},
	{"Firefox on Linux", "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		userAgent{Browser: "Firefox", BrowserVersion: "133.0", OS: "Linux", Device: "Desktop"}},
	{"Safari on macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		userAgent{Browser: "Safari", BrowserVersion: "18.1", OS: "MacOS", OSVersion: "10.15.7", Device: "Desktop"}},
	{"Safari on iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
		userAgent{Browser: "Safari", BrowserVersion: "17.6", OS: "iOS", OSVersion: "17.6.1", Device: "Mobile"}},
	{"Safari on iPad", "Mozilla/5.0 (iPad; CPU OS 16_7_10 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
		userAgent{Browser: "Safari", BrowserVersion: "16.6", OS: "iOS", OSVersion: "16.7.10", Device: "Tablet"}},
	{"Chrome on Android", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.104 Mobile Safari/537.36",
		userAgent{Browser: "Chrome", BrowserVersion: "131.0.6778.104", OS: "Android", OSVersion: "14", Device: "Mobile"}},
	{"Samsung Internet", "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
		userAgent{Browser: "Samsung Browser", BrowserVersion: "23.0", OS: "Android", OSVersion: "13", Device: "Mobile"}},
	{"curl", "curl/8.5.0",
		userAgent{Browser: "curl", BrowserVersion: "8.5.0", Device: "Bot", Bot: true}},
	{"python-requests", "python-requests/2.32.3",
		userAgent{Browser: "python-requests", BrowserVersion: "2.32.3", Device: "Bot", Bot: true}},
	{"Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		userAgent{Browser: "Googlebot", BrowserVersion: "2.1", Device: "Bot", Bot: true}},
	{"Googlebot smartphone", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		userAgent{Browser: "Googlebot", BrowserVersion: "2.1", OS: "Android", OSVersion: "6.0.1", Device: "Bot", Bot: true}},
	{"bingbot", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
		userAgent{Browser: "bingbot", BrowserVersion: "2.0", Device: "Bot", Bot: true}},
}

func TestParseUserAgent(t *testing.T) {
	h, err := compileUserAgent("pipeline[0]", &Step{Type: "useragent"})
	if err != nil {
		t.Fatal(err)
	}
	p := h.(*uaHook).parser
	for _, tt := range userAgentCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseUserAgent(p, tt.ua); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestUserAgentStep(t *testing.T) {
	p, err := NewPipeline(PipelineConfig{{Type: "useragent"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		fields []storage.Field
		want   map[string]any
	}{
		{"browser", []storage.Field{str("user_agent", userAgentCases[4].ua)}, map[string]any{
			"user_agent": userAgentCases[4].ua, "ua.browser": "Safari", "ua.browser_version": "17.6",
			"ua.os": "iOS", "ua.os_version": "17.6.1", "ua.device": "Mobile", "ua.bot": false}},
		{"crawler", []storage.Field{str("user_agent", userAgentCases[12].ua)}, map[string]any{
			"user_agent": userAgentCases[12].ua, "ua.browser": "bingbot", "ua.browser_version": "2.0",
			"ua.device": "Bot", "ua.bot": true}},
		{"empty", []storage.Field{str("user_agent", "")}, map[string]any{"user_agent": ""}},
		{"dash of an access log", []storage.Field{str("user_agent", "-")}, map[string]any{"user_agent": "-"}},
		{"no field", nil, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second from the cache
				e := entry("m", tt.fields...)
				if !p.Apply(&e) {
					t.Fatal("dropped")
				}
				if got := fieldMap(e); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("fields %v, want %v", got, tt.want)
				}
			}
		})
	}

	// Names choose the fields, and an empty name leaves one out.
	p, err = NewPipeline(PipelineConfig{{Type: "useragent", Field: "agent", CacheSize: 1,
		Names: map[string]string{"browser": "client.name", "browser_version": "", "os_version": "", "device": "", "os": "", "bot": "is_bot"}}})
	if err != nil {
		t.Fatal(err)
	}
	e := entry("m", str("agent", userAgentCases[10].ua))
	p.Apply(&e)
	if want := map[string]any{"agent": userAgentCases[10].ua, "client.name": "Googlebot", "is_bot": true}; !reflect.DeepEqual(fieldMap(e), want) {
		t.Errorf("fields %v, want %v", fieldMap(e), want)
	}
}

package tool

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/agenthook/agenthook/internal/config"
)

const testStripeKey = "sk_test_agenthook_fake_key_123"

// seen is one request that reached the fake Stripe API.
type seen struct {
	method, path string
	form         url.Values // query for GET, form body for POST
	header       http.Header
}

// fakeStripe answers like the Stripe API for the few objects the tests
// use, through stripe-go's real HTTP backend, and records every request.
type fakeStripe struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newFakeStripe(t *testing.T) *fakeStripe {
	f := &fakeStripe{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeStripe) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

func (f *fakeStripe) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(raw))
	if r.Method == http.MethodGet {
		form = r.URL.Query()
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, seen{r.Method, r.URL.Path, form, r.Header.Clone()})
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+testStripeKey {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}}`)
		return
	}
	switch r.Method + " " + r.URL.Path {
	case "POST /v1/refunds":
		io.WriteString(w, `{"id":"re_1","object":"refund","amount":500,"charge":"ch_1","currency":"usd",
			"status":"succeeded","reason":"requested_by_customer","metadata":{},"description":null,"destination_details":{}}`)
	case "GET /v1/charges/ch_1":
		io.WriteString(w, `{"id":"ch_1","object":"charge","amount":2000,"currency":"usd","customer":"cus_1",
			"disputed":false,"metadata":{},"failure_code":null,"outcome":{"type":"authorized","reason":null}}`)
	case "GET /v1/charges":
		io.WriteString(w, `{"object":"list","url":"/v1/charges","has_more":false,"data":[
			{"id":"ch_1","object":"charge","amount":2000,"disputed":false},
			{"id":"ch_2","object":"charge","amount":7000,"disputed":true}]}`)
	case "GET /v1/disputes":
		io.WriteString(w, `{"object":"list","url":"/v1/disputes","has_more":false,"data":[
			{"id":"dp_1","object":"dispute","charge":"ch_2","amount":7000,"reason":"fraudulent","status":"needs_response"}]}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"resource_missing","param":"id",
			"message":"No such charge: 'ch_missing'"}}`)
	}
}

func stripeSet(t *testing.T, f *fakeStripe, writes []string, actions map[string]string) *Set {
	t.Helper()
	cfg := &config.Config{
		StripeWrites: writes,
		Stripe:       config.Stripe{APIKey: testStripeKey, APIBase: f.URL},
		Tools:        map[string]config.Tool{},
	}
	for name, action := range actions {
		cfg.Tools[name] = config.Tool{Run: &config.Run{Stripe: action}}
	}
	return newSet(t, cfg)
}

func TestStripeRefundCarriesIdempotencyKey(t *testing.T) {
	f := newFakeStripe(t)
	s := stripeSet(t, f, []string{"refund.create"}, map[string]string{"refund": "refund.create"})

	c := call("refund", `{"charge":"ch_1","amount":500,"reason":"requested_by_customer"}`)
	c.EventID, c.ToolUseID, c.IdempotencyKey = "evt_9", "toolu_9", ""
	res, err := s.Execute(context.Background(), c)
	if err != nil || res.IsError {
		t.Fatalf("got %+v, %v", res, err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/v1/refunds" {
		t.Fatalf("request %s %s", r.method, r.path)
	}
	if got, want := r.header.Get("Idempotency-Key"), IdempotencyKey("evt_9", "refund", json.RawMessage(`{"charge":"ch_1","amount":500,"reason":"requested_by_customer"}`)); got != want {
		t.Fatalf("Idempotency-Key %q, want %q", got, want)
	}
	for k, v := range map[string]string{"charge": "ch_1", "amount": "500", "reason": "requested_by_customer"} {
		if r.form.Get(k) != v {
			t.Errorf("form %s = %q, want %q (form %v)", k, r.form.Get(k), v, r.form)
		}
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(res.Content), &obj); err != nil {
		t.Fatalf("result is not JSON: %v\n%s", err, res.Content)
	}
	if obj["id"] != "re_1" || obj["status"] != "succeeded" {
		t.Fatalf("result %s", res.Content)
	}
	for _, gone := range []string{"description", "metadata", "destination_details"} {
		if _, ok := obj[gone]; ok {
			t.Errorf("result keeps null/empty %q: %s", gone, res.Content)
		}
	}
}

func TestStripeWriteNotAllowedSendsNothing(t *testing.T) {
	f := newFakeStripe(t)
	s := stripeSet(t, f, nil, map[string]string{"refund": "refund.create", "cancel": "subscription.cancel"})
	for tool, action := range map[string]string{"refund": "refund.create", "cancel": "subscription.cancel"} {
		res, err := s.Execute(context.Background(), call(tool, `{"charge":"ch_1","id":"sub_1"}`))
		if err != nil {
			t.Fatal(err)
		}
		want := "stripe write " + action + " is not allowed: add it to stripe_writes"
		if !res.IsError || res.Content != want {
			t.Fatalf("result %+v, want IsError %q", res, want)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("%d requests reached Stripe, want 0", n)
	}
}

func TestStripeRead(t *testing.T) {
	f := newFakeStripe(t)
	s := stripeSet(t, f, nil, map[string]string{"charge": "charge.retrieve"})
	res, err := s.Execute(context.Background(), call("charge", `{"id":"ch_1"}`))
	if err != nil || res.IsError {
		t.Fatalf("got %+v, %v", res, err)
	}
	if !strings.Contains(res.Content, `"id":"ch_1"`) || !strings.Contains(res.Content, `"outcome":{"type":"authorized"}`) ||
		strings.Contains(res.Content, "null") {
		t.Fatalf("result %s", res.Content)
	}
	reqs := f.requests()
	if len(reqs) != 1 || reqs[0].method != http.MethodGet || reqs[0].path != "/v1/charges/ch_1" {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestStripeCustomerDisputes(t *testing.T) {
	f := newFakeStripe(t)
	s := stripeSet(t, f, nil, map[string]string{"disputes": "customer.disputes"})
	res, err := s.Execute(context.Background(), call("disputes", `{"customer":"cus_1"}`))
	if err != nil || res.IsError {
		t.Fatalf("got %+v, %v", res, err)
	}
	var got struct {
		Data []struct{ ID, Charge string }
	}
	if err := json.Unmarshal([]byte(res.Content), &got); err != nil || len(got.Data) != 1 || got.Data[0].ID != "dp_1" {
		t.Fatalf("result %s (%v)", res.Content, err)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (charges, then disputes of the disputed charge)", len(reqs))
	}
	if reqs[0].path != "/v1/charges" || reqs[0].form.Get("customer") != "cus_1" || reqs[0].form.Get("limit") != "100" {
		t.Errorf("first request %s %v", reqs[0].path, reqs[0].form)
	}
	if reqs[1].path != "/v1/disputes" || reqs[1].form.Get("charge") != "ch_2" {
		t.Errorf("second request %s %v", reqs[1].path, reqs[1].form)
	}
}

func TestStripeAPIError(t *testing.T) {
	f := newFakeStripe(t)
	s := stripeSet(t, f, nil, map[string]string{"charge": "charge.retrieve"})
	res, err := s.Execute(context.Background(), call("charge", `{"id":"ch_missing"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(res.Content, "No such charge: 'ch_missing'") ||
		!strings.Contains(res.Content, "code: resource_missing") || !strings.Contains(res.Content, "HTTP 404") {
		t.Fatalf("result %+v", res)
	}
	if strings.Contains(res.Content, testStripeKey) {
		t.Fatal("result shows the API key")
	}
}

// TestStripeBadInput: ids that could steer the request elsewhere, unknown
// fields and rule breaks are refused before any request.
func TestStripeBadInput(t *testing.T) {
	f := newFakeStripe(t)
	s := stripeSet(t, f, []string{"refund.create"}, map[string]string{"charge": "charge.retrieve", "refund": "refund.create"})
	for _, c := range []struct{ tool, input, want string }{
		{"charge", `{"id":"../customers/cus_1"}`, "is not a Stripe id"},
		{"charge", `{}`, "id is required"},
		{"refund", `{"charge":"ch_1","amout":5}`, `unknown field "amout"`},
		{"refund", `{"charge":"ch_1","payment_intent":"pi_1"}`, "exactly one of charge or payment_intent"},
		{"refund", `{"charge":"ch_1","amount":-5}`, "amount must be a positive integer"},
	} {
		res, err := s.Execute(context.Background(), call(c.tool, c.input))
		if err != nil || !res.IsError || !strings.Contains(res.Content, c.want) {
			t.Errorf("%s %s: got %+v, %v; want IsError containing %q", c.tool, c.input, res, err, c.want)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("%d requests reached Stripe, want 0", n)
	}
}

func TestStripeNeedsKey(t *testing.T) {
	cfg := &config.Config{Tools: map[string]config.Tool{"charge": {Run: &config.Run{Stripe: "charge.retrieve"}}}}
	_, err := NewSet(cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), "STRIPE_SECRET_KEY") {
		t.Fatalf("NewSet without a key: %v, want an error naming STRIPE_SECRET_KEY", err)
	}
}

func TestStripeSchemas(t *testing.T) {
	for _, a := range StripeActions() {
		s := StripeSchema(a)
		if s["type"] != "object" || StripeDescription(a) == "" {
			t.Errorf("%s: schema %v, description %q", a, s, StripeDescription(a))
		}
		if props, _ := s["properties"].(map[string]any); len(props) == 0 {
			t.Errorf("%s: no properties", a)
		}
	}
	if StripeSchema("charge.delete") != nil {
		t.Error("schema for an unknown action")
	}
	StripeSchema("refund.create")["type"] = "changed"
	if StripeSchema("refund.create")["type"] != "object" {
		t.Error("StripeSchema returns a shared map")
	}
	if !IsStripeWrite("refund.create") || IsStripeWrite("charge.retrieve") || IsStripeWrite("nope") {
		t.Error("IsStripeWrite")
	}
}

// TestStripeSchemaMatchesInput sends every action an input with every
// property its schema offers: none may be rejected as unknown, or the
// model would be invited to send input the action refuses.
func TestStripeSchemaMatchesInput(t *testing.T) {
	f := newFakeStripe(t)
	actions := map[string]string{}
	for _, a := range StripeActions() {
		actions[strings.ReplaceAll(a, ".", "_")] = a
	}
	var writes []string
	for _, a := range StripeActions() {
		if IsStripeWrite(a) {
			writes = append(writes, a)
		}
	}
	s := stripeSet(t, f, writes, actions)
	for tool, a := range actions {
		input, _ := json.Marshal(sample(StripeSchema(a)))
		res, err := s.Execute(context.Background(), call(tool, string(input)))
		if err != nil || strings.Contains(res.Content, "does not match the input_schema") {
			t.Errorf("%s %s: %+v, %v", a, input, res, err)
		}
	}
	if len(f.requests()) == 0 {
		t.Fatal("no input got as far as Stripe")
	}
}

// sample builds a value with every property of a JSON schema filled in.
func sample(schema map[string]any) any {
	if e, ok := schema["enum"].([]string); ok {
		return e[0]
	}
	switch schema["type"] {
	case "string":
		return "x_1"
	case "integer":
		return 1
	case "boolean":
		return true
	case "object":
		out := map[string]any{}
		props, _ := schema["properties"].(map[string]any)
		for k, p := range props {
			out[k] = sample(p.(map[string]any))
		}
		if len(props) == 0 {
			out["note"] = "x"
		}
		return out
	}
	return nil
}

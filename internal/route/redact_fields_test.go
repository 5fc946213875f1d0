package route

import (
	"encoding/json"
	"strings"
	"testing"
)

// stripeEvent wraps a Stripe object in an event envelope.
func stripeEvent(typ, object string) []byte {
	return []byte(`{"id":"evt_1Test","object":"event","api_version":"2026-07-29.dahlia","created":1786552803,"livemode":false,` +
		`"type":"` + typ + `","data":{"object":` + object + `}}`)
}

// keysOnly applies the key patterns alone (no value detectors, no echo),
// so a test shows that the key rule holds by itself.
func keysOnly(t *testing.T, object string) string {
	t.Helper()
	root, err := parseTree([]byte(object))
	if err != nil {
		t.Fatal(err)
	}
	var taken []string
	(&redactor{}).walk(root, 0, nil, "", &taken)
	return string(root.json())
}

// redactionCase is one field that must not reach a model: the event it
// comes in (or the Stripe action whose result carries it) and its value.
type redactionCase struct {
	name   string
	typ    string // the event type whose data.object is object
	object string
	secret string // the value that must disappear
}

// issueFields are the fields issue 13 found in clear, one case each, in
// the Stripe shapes that carry them, plus the results of Stripe actions.
var issueFields = []redactionCase{
	{"phone_number", "issuing_cardholder.created",
		`{"id":"ich_1","object":"issuing.cardholder","phone_number":"800 867 5309","status":"active","type":"individual"}`, "867 5309"},
	{"first_name", "person.created",
		`{"id":"person_1","object":"person","account":"acct_1","first_name":"Jennifer","relationship":{"owner":true}}`, "Jennifer"},
	{"last_name", "person.created",
		`{"id":"person_1","object":"person","account":"acct_1","last_name":"Rosenthal"}`, "Rosenthal"},
	{"maiden_name", "person.updated",
		`{"id":"person_1","object":"person","maiden_name":"Appleseed"}`, "Appleseed"},
	{"individual.first_name", "issuing_cardholder.created",
		`{"id":"ich_1","object":"issuing.cardholder","individual":{"first_name":"Jennifer","last_name":"Rosenthal","dob":{"day":14,"month":3,"year":1987}}}`, "Jennifer"},
	{"dob", "person.created",
		`{"id":"person_1","object":"person","dob":{"day":14,"month":3,"year":1987}}`, "1987"},
	{"tos_acceptance.ip", "account.updated",
		`{"id":"acct_1","object":"account","tos_acceptance":{"date":1786552803,"ip":"203.0.113.9"}}`, "203.0.113.9"},
	{"tos_acceptance.user_agent", "account.updated",
		`{"id":"acct_1","object":"account","tos_acceptance":{"date":1786552803,"user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}}`, "Mozilla"},
	{"mandate user_agent", "mandate.updated",
		`{"id":"mandate_1","object":"mandate","customer_acceptance":{"online":{"ip_address":"198.51.100.4","user_agent":"curl/8.5.0"},"type":"online"}}`, "curl/8.5.0"},
	{"business_profile.support_email", "account.updated",
		`{"id":"acct_1","object":"account","business_profile":{"name":"Acme Shop","support_email":"help-desk(at)acme"}}`, "help-desk(at)acme"},
	{"business_profile.support_phone", "account.updated",
		`{"id":"acct_1","object":"account","business_profile":{"name":"Acme Shop","support_phone":"555 0100"}}`, "555 0100"},
	{"sender_name", "customer_cash_balance_transaction.created",
		`{"id":"ccsbtxn_1","object":"customer_cash_balance_transaction","funded":{"bank_transfer":{"eu_bank_transfer":{"bic":"BANKDEFFXXX","iban_last4":"7890","sender_name":"Sample Business GmbH"},"type":"eu_bank_transfer"}},"type":"funded"}`, "Sample Business"},
	{"account_number", "treasury.financial_account.features_status_updated",
		`{"id":"fa_1","object":"treasury.financial_account","financial_addresses":[{"aba":{"account_holder_name":"Jennifer R","account_number":"0000123456789","bank_name":"STRIPE TEST BANK","routing_number":"110000000"},"type":"aba"}]}`, "0000123456789"},
	{"routing_number", "customer.source.created",
		`{"id":"ba_1","object":"bank_account","bank_name":"STRIPE TEST BANK","last4":"6789","routing_number":"110000000"}`, "110000000"},
	{"account_holder_name", "customer.source.created",
		`{"id":"ba_1","object":"bank_account","account_holder_name":"Jane Austen","last4":"6789"}`, "Jane Austen"},
	{"tax id value", "customer.tax_id.created",
		`{"id":"txi_1","object":"tax_id","country":"DE","type":"eu_vat","value":"DE123456789"}`, "DE123456789"},
	{"individual id_number", "account.updated",
		`{"id":"acct_1","object":"account","individual":{"id_number":"000000000","ssn_last_4":"0000"}}`, "000000000"},
	{"dispute evidence", "charge.dispute.created",
		`{"id":"dp_1","object":"dispute","amount":1000,"evidence":{"customer_email_address":"jr(at)example","customer_name":"Jennifer Rosenthal","customer_purchase_ip":"192.0.2.10","billing_address":"1 Main Street"}}`, "Jennifer Rosenthal"},
	{"invoice customer_address", "invoice.finalized",
		`{"id":"in_1","object":"invoice","customer_address":{"city":"Springfield","line1":"742 Evergreen Terrace","postal_code":"49007"},"customer_name":"Homer"}`, "Evergreen"},
	{"shipping.name", "payment_intent.succeeded",
		`{"id":"pi_1","object":"payment_intent","shipping":{"name":"Jennifer Rosenthal","address":{"line1":"1 Main Street"}}}`, "Jennifer Rosenthal"},
	{"source owner", "source.chargeable",
		`{"id":"src_1","object":"source","owner":{"verified_name":"Jennifer Rosenthal","verified_email":"j(at)r","verified_phone":"555 0101"}}`, "Jennifer Rosenthal"},
	{"card.name", "customer.source.created",
		`{"id":"card_1","object":"card","address_line1":"1 Main Street","address_line1_check":"pass","brand":"Visa","last4":"4242","name":"Jennifer Rosenthal"}`, "Jennifer Rosenthal"},
	{"checkout customer_details", "checkout.session.completed",
		`{"id":"cs_1","object":"checkout.session","customer_details":{"business_name":"Rosenthal Consulting","individual_name":"Jennifer Rosenthal","tax_exempt":"none"}}`, "Rosenthal"},
	{"iban", "charge.succeeded",
		`{"id":"ch_1","object":"charge","payment_method_details":{"sepa_debit":{"iban":"DE89370400440532013000","last4":"3000"}}}`, "DE89370400440532013000"},
	// The results of Stripe actions (charge.retrieve, payment_intent.retrieve).
	{"charge.retrieve billing_details.name", "charge.succeeded",
		`{"id":"ch_1","object":"charge","amount":2000,"billing_details":{"name":"Jennifer Rosenthal"},"currency":"usd"}`, "Jennifer Rosenthal"},
	{"charge.retrieve card fingerprint", "charge.succeeded",
		`{"id":"ch_1","object":"charge","payment_method_details":{"card":{"brand":"visa","fingerprint":"Xt5EWLLDS7FJjR1c","last4":"4242"},"type":"card"}}`, "Xt5EWLLDS7FJjR1c"},
	{"payment_intent.retrieve client_secret", "payment_intent.created",
		`{"id":"pi_1","object":"payment_intent","amount":1099,"client_secret":"pi_1_secret_YrKJUKribcBjcG8HVhfZluoGH","status":"requires_payment_method"}`, "YrKJUKribcBjcG8HVhfZluoGH"},
	{"webhook endpoint secret", "webhook_endpoint.created",
		`{"id":"we_1","object":"webhook_endpoint","secret":"wh-test-9f86d081884c7d65"}`, "wh-test-9f86d081884c7d65"},
}

// TestRedactionFields checks each field of issueFields three ways: the
// key pattern alone removes it, the event prompt (Text and Event) never
// shows it, and neither does a tool result carrying the object.
func TestRedactionFields(t *testing.T) {
	for _, c := range issueFields {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(c.object, c.secret) {
				t.Fatalf("the case does not contain %q", c.secret)
			}
			if out := keysOnly(t, c.object); strings.Contains(out, c.secret) || !strings.Contains(out, Redacted) {
				t.Errorf("key patterns leave %q: %s", c.secret, out)
			}
			b, err := Prompt(Route{Name: "r", Tools: []Tool{{Name: "t"}}}, stripeEvent(c.typ, c.object), 0)
			if err != nil {
				t.Fatal(err)
			}
			for what, out := range map[string]string{"prompt": b.Text, "Built.Event": string(b.Event), "tool result": RedactResult(c.object)} {
				if strings.Contains(out, c.secret) {
					t.Errorf("%s shows %q:\n%s", what, c.secret, out)
				}
			}
		})
	}
}

// TestRedactionKeeps checks the other side: what a decision needs stays,
// in the prompt and in a tool result.
func TestRedactionKeeps(t *testing.T) {
	for _, c := range []struct {
		name, object string
		keep         []string
	}{
		{"charge", `{"id":"ch_1","object":"charge","amount":2000,"amount_refunded":0,"currency":"usd","customer":"cus_QXg1o8vcGmoR32","status":"succeeded",` +
			`"description":"Order 7FE1103-0001, 2 items","billing_details":{"address":{"country":"US"},"name":"Jennifer Rosenthal"},` +
			`"outcome":{"network_status":"approved_by_network","reason":"highest_risk_level","risk_score":37},` +
			`"payment_method_details":{"card":{"brand":"visa","checks":{"address_line1_check":"pass","address_postal_code_check":"fail","cvc_check":"pass"},"country":"US","exp_month":8,"exp_year":2030,"last4":"4242"}},` +
			`"receipt_number":"1234-5678","created":1786552803}`,
			[]string{`"amount":2000`, `"currency":"usd"`, `"customer":"cus_QXg1o8vcGmoR32"`, `"status":"succeeded"`, `Order 7FE1103-0001, 2 items`,
				`"reason":"highest_risk_level"`, `"address_line1_check":"pass"`, `"address_postal_code_check":"fail"`, `"last4":"4242"`, `"exp_month":8`,
				`"country":"US"`, `"receipt_number":"1234-5678"`, `"risk_score":37`}},
		{"dispute", `{"id":"dp_1Pgc71B7WZ01zgkWMevJiAUx","object":"dispute","amount":1000,"charge":"ch_3ScP4cB7WZ01zgkW3ZkD7rYk","reason":"fraudulent","status":"needs_response",` +
			`"evidence_details":{"due_by":1788307199},"payment_method_details":{"card":{"network_reason_code":"10.4"}},"evidence":{"shipping_carrier":"UPS","shipping_date":"2026-08-12"}}`,
			[]string{`"id":"dp_1Pgc71B7WZ01zgkWMevJiAUx"`, `"charge":"ch_3ScP4cB7WZ01zgkW3ZkD7rYk"`, `"reason":"fraudulent"`, `"due_by":1788307199`, `"network_reason_code":"10.4"`, `UPS`, `2026-08-12`}},
		{"product", `{"id":"prod_1","object":"product","name":"T-shirt","description":"Organic cotton"}`, []string{`"name":"T-shirt"`}},
		{"price", `{"id":"price_1","object":"price","nickname":"Gold monthly","product":{"id":"prod_1","object":"product","name":"Gold plan"},"unit_amount":2000}`,
			[]string{`"nickname":"Gold monthly"`, `"name":"Gold plan"`, `"unit_amount":2000`}},
		{"plan", `{"id":"plan_1","object":"plan","name":"Pro (legacy)","amount":5000,"interval":"month"}`, []string{`"name":"Pro (legacy)"`, `"amount":5000`}},
		{"invoice", `{"id":"in_1","object":"invoice","account_name":"Acme Test Co","number":"7FE1103-0001","total_details":{"amount_shipping":500,"amount_tax":0},` +
			`"lines":{"object":"list","data":[{"id":"il_1","object":"line_item","description":"1 × T-shirt (at $20.00 / month)","amount":2000}],"has_more":false},` +
			`"issuer":{"type":"self"},"customer_tax_exempt":"none","created":1786552803}`,
			[]string{`"account_name":"Acme Test Co"`, `"number":"7FE1103-0001"`, `"amount_shipping":500`, `1 × T-shirt (at $20.00 / month)`, `"customer_tax_exempt":"none"`}},
		{"coupon and tax rate", `{"id":"sub_1","object":"subscription","discount":{"coupon":{"id":"co_1","object":"coupon","name":"25.5% off","percent_off":25.5}},"default_tax_rates":[{"id":"txr_1","object":"tax_rate","display_name":"VAT","percentage":19}]}`,
			[]string{`"name":"25.5% off"`, `"display_name":"VAT"`}},
		{"connected account", `{"id":"acct_1","object":"account","business_profile":{"name":"Acme Shop","mcc":"5734"},"email_verified":true,"company":{"name":"Acme GmbH","tax_id_provided":true}}`,
			[]string{`"name":"Acme Shop"`, `"name":"Acme GmbH"`, `"tax_id_provided":true`, `"mcc":"5734"`}},
		{"issuing merchant", `{"id":"iauth_1","object":"issuing.authorization","amount":700,"merchant_data":{"category":"taxicabs_limousines","city":"San Francisco","name":"Rocket Rides"}}`,
			[]string{`Rocket Rides`, `"amount":700`}},
		{"checkout settings", `{"id":"cs_1","object":"checkout.session","customer_update":{"address":"auto","name":"never"},"phone_number_collection":{"enabled":true},"billing_address_collection":"required","client_reference_id":"order_6735"}`,
			[]string{`"address":"auto"`, `"name":"never"`, `"phone_number_collection":{"enabled":true}`, `"billing_address_collection":"required"`, `order_6735`}},
		{"timestamps and uuids", `{"id":"evt_x","object":"thing","note":"at 2026-08-12T16:40:03Z, 10:30:00 UTC, key 9f1e2a3b-7c4d-4e5f-8a9b-0c1d2e3f4a5b, version 2026-07-29.dahlia, ref 1786552803"}`,
			[]string{`2026-08-12T16:40:03Z`, `10:30:00`, `9f1e2a3b-7c4d-4e5f-8a9b-0c1d2e3f4a5b`, `2026-07-29.dahlia`, `1786552803`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := Prompt(Route{Name: "r", Tools: []Tool{{Name: "t"}}, Fields: []string{"data.object"}}, stripeEvent("x.updated", c.object), 0)
			if err != nil {
				t.Fatal(err)
			}
			res := RedactResult(c.object)
			for _, k := range c.keep {
				if !strings.Contains(string(b.Event), k) {
					t.Errorf("Built.Event lost %s:\n%s", k, b.Event)
				}
				if !strings.Contains(res, k) {
					t.Errorf("tool result lost %s:\n%s", k, res)
				}
			}
		})
	}
}

// TestDefaultRedactCovered checks that the plain key names of
// DefaultRedact are matched by the key patterns.
func TestDefaultRedactCovered(t *testing.T) {
	for _, k := range DefaultRedact() {
		if !personalKey(k, "", "") {
			t.Errorf("DefaultRedact lists %q but personalKey does not match it", k)
		}
	}
}

// TestValueDetectors checks the value detectors on free text: the match,
// and only the match, becomes [redacted].
func TestValueDetectors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// emails
		{"write to jenny.rosen+orders@mail.example.co.uk today", "write to [redacted] today"},
		// phones
		{"call +1 (415) 555-0142 or +44 20 7946 0958", "call [redacted] or [redacted]"},
		{"call +18008675309.", "call [redacted]."},
		{"US (415) 555-0142, 415-555-0143, 415.555.0144", "US [redacted], [redacted], [redacted]"},
		{"UK 020 7946 0958, FR 06 12 34 56 78", "UK [redacted], FR [redacted]"},
		// IPs
		{"from 198.51.100.23 and 2001:db8::7334, ip:fe80::1%eth0.", "from [redacted] and [redacted], ip:[redacted]."},
		{"mapped ::ffff:192.0.2.128 ok", "mapped [redacted] ok"},
		// cards (Luhn-valid), bare and grouped
		{"card 4242424242424242 or 4000-0566-5566-5556, amex 3782 822463 10005", "card [redacted] or [redacted], amex [redacted]"},
		// secrets
		{"key sk_live_51Hq8yZKx9abcdefGHIJ and rk_test_51Hq8yZKx9abcdefGHIJ", "key [redacted] and [redacted]"},
		{"STRIPE_WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "STRIPE_WEBHOOK_SECRET=[redacted]"},
		{"Authorization: Bearer eyJhbGciOi.payload-part.sig_part", "Authorization: [redacted]"},
		{"secret pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH here", "secret [redacted] here"},
		{"token sk-ant-api03-abcdefghijklmnopqrstuvwx", "token [redacted]"},
		// left alone
		{"amount 2000, order 12345678901, ts 1786552803, 10:30:00, v1.2.3.4.5, 10.4, 2026-08-12", "amount 2000, order 12345678901, ts 1786552803, 10:30:00, v1.2.3.4.5, 10.4, 2026-08-12"},
		{"not a card 4242424242424241, risk_level normal, task_sk_thing", "not a card 4242424242424241, risk_level normal, task_sk_thing"},
	} {
		if got, _ := scrub(c.in); got != c.want {
			t.Errorf("scrub(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// TestFreeTextRedacted checks the detectors where customers write: a
// charge description, metadata (keys too), a cancellation comment and
// dispute evidence; and that a name taken out by key is also taken out
// where the same document repeats it.
func TestFreeTextRedacted(t *testing.T) {
	obj := `{"id":"dp_1","object":"dispute","amount":1000,"evidence":{"uncategorized_text":"Cardholder jr@example.org called from +1 415 555 0199, IP 203.0.113.50",` +
		`"access_activity_log":"login 2001:db8::1 at 10:30:00","customer_communication":"file_1"},"metadata":{"jr@example.org":"vip","card":"4111 1111 1111 1111"},` +
		`"description":"Dispute for Jennifer Rosenthal, see charge","billing_details":{"name":"Jennifer Rosenthal"},` +
		`"cancellation_details":{"comment":"mail me at jr@example.org","feedback":"too_expensive"}}`
	b, err := Prompt(Route{Name: "r", Tools: []Tool{{Name: "t"}}}, stripeEvent("charge.dispute.updated", obj), 0)
	if err != nil {
		t.Fatal(err)
	}
	res := RedactResult(obj)
	for _, out := range []string{b.Text, string(b.Event), res} {
		for _, v := range []string{"jr@example.org", "415 555 0199", "203.0.113.50", "2001:db8::1", "4111 1111 1111 1111", "Jennifer", "Rosenthal"} {
			if strings.Contains(out, v) {
				t.Errorf("%q reached:\n%s", v, out)
			}
		}
		for _, v := range []string{"Cardholder [redacted] called", "too_expensive", "file_1", "Dispute for [redacted], see charge", "at 10:30:00"} {
			if !strings.Contains(out, v) {
				t.Errorf("lost %q:\n%s", v, out)
			}
		}
	}
}

func TestRedactResult(t *testing.T) {
	charge := `{"id":"ch_1","object":"charge","amount":2000,"billing_details":{"email":"jr@example.org","name":"Jennifer Rosenthal"},"currency":"usd"}`
	for _, c := range []struct{ name, in, want string }{
		{"nothing to redact: byte for byte", "{\n  \"id\": \"re_1\",\n  \"amount\": 2000\n}", "{\n  \"id\": \"re_1\",\n  \"amount\": 2000\n}"},
		{"plain text", "done (200 OK, empty body)", "done (200 OK, empty body)"},
		{"json", charge, `{"id":"ch_1","object":"charge","amount":2000,"billing_details":{"email":"[redacted]","name":"[redacted]"},"currency":"usd"}`},
		{"pretty json", "{\n  \"name\": \"Jennifer Rosenthal\",\n  \"object\": \"customer\"\n}", `{"name":"[redacted]","object":"customer"}`},
		{"text", "stripe: no such customer cus_1 (jr@example.org); Authorization: Bearer sk_test_abcdefgh12345",
			"stripe: no such customer cus_1 ([redacted]); Authorization: [redacted]"},
		{"json string", `"call +1 415 555 0199"`, `"call [redacted]"`},
		{"clipped json", `{"id":"cus_1","object":"customer","email":"jr@example.org","name":"Jennifer Rose` + "\n[truncated: the output was longer than 16384 bytes]",
			`{"id":"cus_1","object":"customer","email":"[redacted]"}` + "\n[truncated: the output was longer than 16384 bytes]"},
		{"clipped inside a personal object", `{"id":"ch_1","shipping":{"address":{"line1":"1 Main St","city":"Spri`,
			`{"id":"ch_1","shipping":"[redacted]"}`},
		{"clipped pretty json", "[\n  {\"id\": \"ch_1\", \"amount\": 20,\n  \"billing_details\": {\"name\": \"Jenn\n[truncated: …]",
			`[{"id":"ch_1","amount":20,"billing_details":{}}]` + "\n[truncated: …]"},
		{"json then text", `{"name":"Jennifer Rosenthal"} and jr@example.org`, `{"name":"[redacted]"} and [redacted]`},
		{"brackets in prose", "[INFO] refunded for jr@example.org\n[INFO] ok", "[INFO] refunded for [redacted]\n[INFO] ok"},
		{"empty", "", ""},
	} {
		if got := RedactResult(c.in); got != c.want {
			t.Errorf("%s: RedactResult(%q)\n got %q\nwant %q", c.name, c.in, got, c.want)
		}
	}
}

func FuzzRedactResult(f *testing.F) {
	for _, c := range issueFields {
		f.Add(c.object)
	}
	f.Add(`{"a":[1,{"email":"x@y.zz"`)
	f.Add("[truncated]\nBearer abc")
	f.Add(`"4242 4242 4242 4242"`)
	f.Fuzz(func(t *testing.T, in string) {
		out := RedactResult(in)
		if _, err := parseTree([]byte(in)); err == nil && !json.Valid([]byte(out)) {
			t.Fatalf("RedactResult(%q) = %q: valid JSON in, invalid out", in, out)
		}
		_ = RedactResult(out) // redacting what was redacted never panics either
	})
}

package tool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v86"

	"github.com/agenthook/agenthook/internal/config"
)

// Stripe list inputs: a default page small enough to fit MaxResultBytes
// once compacted, and Stripe's own maximum.
const (
	defaultListLimit = 10
	maxListLimit     = 100
	// disputeScanCharges is how many of a customer's latest charges
	// customer.disputes looks through (one page).
	disputeScanCharges = 100
)

// stripeSpec is one built-in Stripe action.
type stripeSpec struct {
	write  bool
	desc   string
	schema func() map[string]any
	// run decodes and checks the model's input (an *inputError when it is
	// wrong), calls Stripe and returns the JSON to show the model.
	run func(ctx context.Context, c *stripe.Client, in json.RawMessage, idem string) ([]byte, error)
}

// inputError is a problem with the model's tool input; its text is meant
// for the model, which can correct the call.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// checker validates a decoded input.
type checker interface{ check() error }

// action builds a stripeSpec whose input decodes strictly into In: an
// unknown field is an error rather than silently ignored, so a misspelt
// "amout" cannot turn a partial refund into a full one.
func action[In any, P interface {
	*In
	checker
}](write bool, desc string, schema func() map[string]any, do func(context.Context, *stripe.Client, P, *string) ([]byte, error)) *stripeSpec {
	return &stripeSpec{write: write, desc: desc, schema: schema,
		run: func(ctx context.Context, c *stripe.Client, raw json.RawMessage, idem string) ([]byte, error) {
			var in In
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&in); err != nil {
				return nil, badInput("the input does not match the input_schema: %v", err)
			}
			if err := P(&in).check(); err != nil {
				return nil, err
			}
			var key *string
			if write {
				key = stripe.String(idem)
			}
			return do(ctx, c, &in, key)
		}}
}

// stripeActions is every built-in action by name (resource.verb, after
// the Stripe API).
var stripeActions = map[string]*stripeSpec{
	"charge.retrieve": action(false, "Retrieve a Stripe charge by id.", idSchema("charge", "ch_"),
		func(ctx context.Context, c *stripe.Client, in *idInput, _ *string) ([]byte, error) {
			v, err := c.V1Charges.Retrieve(ctx, in.ID, nil)
			return body(v, err)
		}),
	"customer.retrieve": action(false, "Retrieve a Stripe customer by id.", idSchema("customer", "cus_"),
		func(ctx context.Context, c *stripe.Client, in *idInput, _ *string) ([]byte, error) {
			v, err := c.V1Customers.Retrieve(ctx, in.ID, nil)
			return body(v, err)
		}),
	"invoice.retrieve": action(false, "Retrieve a Stripe invoice by id.", idSchema("invoice", "in_"),
		func(ctx context.Context, c *stripe.Client, in *idInput, _ *string) ([]byte, error) {
			v, err := c.V1Invoices.Retrieve(ctx, in.ID, nil)
			return body(v, err)
		}),
	"subscription.retrieve": action(false, "Retrieve a Stripe subscription by id.", idSchema("subscription", "sub_"),
		func(ctx context.Context, c *stripe.Client, in *idInput, _ *string) ([]byte, error) {
			v, err := c.V1Subscriptions.Retrieve(ctx, in.ID, nil)
			return body(v, err)
		}),
	"dispute.retrieve": action(false, "Retrieve a Stripe dispute by id.", idSchema("dispute", "dp_"),
		func(ctx context.Context, c *stripe.Client, in *idInput, _ *string) ([]byte, error) {
			v, err := c.V1Disputes.Retrieve(ctx, in.ID, nil)
			return body(v, err)
		}),
	"payment_intent.retrieve": action(false, "Retrieve a Stripe PaymentIntent by id.", idSchema("PaymentIntent", "pi_"),
		func(ctx context.Context, c *stripe.Client, in *idInput, _ *string) ([]byte, error) {
			v, err := c.V1PaymentIntents.Retrieve(ctx, in.ID, nil)
			return body(v, err)
		}),
	"customer.charges": action(false, "List a Stripe customer's most recent charges, newest first.", customerListSchema(nil),
		func(ctx context.Context, c *stripe.Client, in *customerListInput, _ *string) ([]byte, error) {
			p := &stripe.ChargeListParams{Customer: &in.Customer}
			p.Limit, p.Single = stripe.Int64(in.limit()), true
			return listBody(c.V1Charges.List(ctx, p))
		}),
	"customer.invoices": action(false, "List a Stripe customer's most recent invoices, newest first, optionally only those with one status.",
		customerListSchema([]string{"draft", "open", "paid", "uncollectible", "void"}),
		func(ctx context.Context, c *stripe.Client, in *customerListInput, _ *string) ([]byte, error) {
			p := &stripe.InvoiceListParams{Customer: &in.Customer}
			if in.Status != "" {
				p.Status = &in.Status
			}
			p.Limit, p.Single = stripe.Int64(in.limit()), true
			return listBody(c.V1Invoices.List(ctx, p))
		}),
	"customer.disputes": action(false, fmt.Sprintf("List the disputes on a Stripe customer's %d most recent charges.", disputeScanCharges),
		customerListSchema(nil), customerDisputes),

	"refund.create": action(true, "Refund a Stripe charge or PaymentIntent, in full or in part.", refundSchema,
		func(ctx context.Context, c *stripe.Client, in *refundInput, key *string) ([]byte, error) {
			p := &stripe.RefundCreateParams{Amount: in.Amount, Metadata: in.Metadata}
			if in.Charge != "" {
				p.Charge = &in.Charge
			}
			if in.PaymentIntent != "" {
				p.PaymentIntent = &in.PaymentIntent
			}
			if in.Reason != "" {
				p.Reason = &in.Reason
			}
			p.IdempotencyKey = key
			v, err := c.V1Refunds.Create(ctx, p)
			return body(v, err)
		}),
	"dispute.update": action(true, "Add or change the evidence of a Stripe dispute without submitting it (it can still be edited).", disputeSchema(true),
		func(ctx context.Context, c *stripe.Client, in *disputeUpdateInput, key *string) ([]byte, error) {
			return updateDispute(ctx, c, &in.disputeInput, key, false)
		}),
	"dispute.submit": action(true, "Submit a Stripe dispute's evidence to the bank, optionally adding evidence first. This is final: evidence cannot be changed afterwards.", disputeSchema(false),
		func(ctx context.Context, c *stripe.Client, in *disputeInput, key *string) ([]byte, error) {
			return updateDispute(ctx, c, in, key, true)
		}),
	"subscription.cancel": action(true, "Cancel a Stripe subscription immediately.", cancelSchema,
		func(ctx context.Context, c *stripe.Client, in *cancelInput, key *string) ([]byte, error) {
			p := &stripe.SubscriptionCancelParams{InvoiceNow: in.InvoiceNow, Prorate: in.Prorate}
			if in.Comment != "" || in.Feedback != "" {
				p.CancellationDetails = &stripe.SubscriptionCancelCancellationDetailsParams{}
				if in.Comment != "" {
					p.CancellationDetails.Comment = &in.Comment
				}
				if in.Feedback != "" {
					p.CancellationDetails.Feedback = &in.Feedback
				}
			}
			p.IdempotencyKey = key
			v, err := c.V1Subscriptions.Cancel(ctx, in.ID, p)
			return body(v, err)
		}),
	"invoice.pay": action(true, "Attempt to collect payment on an open Stripe invoice now, with the customer's default payment method.", idSchema("invoice", "in_"),
		func(ctx context.Context, c *stripe.Client, in *idInput, key *string) ([]byte, error) {
			p := &stripe.InvoicePayParams{}
			p.IdempotencyKey = key
			v, err := c.V1Invoices.Pay(ctx, in.ID, p)
			return body(v, err)
		}),
	"invoice.void": action(true, "Void a finalized Stripe invoice (it can no longer be paid).", idSchema("invoice", "in_"),
		func(ctx context.Context, c *stripe.Client, in *idInput, key *string) ([]byte, error) {
			p := &stripe.InvoiceVoidInvoiceParams{}
			p.IdempotencyKey = key
			v, err := c.V1Invoices.VoidInvoice(ctx, in.ID, p)
			return body(v, err)
		}),
}

// StripeActions returns the names of the built-in Stripe actions, sorted.
func StripeActions() []string { return slices.Sorted(maps.Keys(stripeActions)) }

// IsStripeWrite reports whether action changes data in Stripe (and so
// must be listed in stripe_writes to run).
func IsStripeWrite(action string) bool {
	s, ok := stripeActions[action]
	return ok && s.write
}

// StripeSchema returns the JSON schema of action's input, a fresh map the
// caller may modify, or nil for an unknown action. A tool with
// run: {stripe: …} and no input_schema can offer it to the model.
func StripeSchema(action string) map[string]any {
	if s, ok := stripeActions[action]; ok {
		return s.schema()
	}
	return nil
}

// StripeDescription returns a one-line description of action for a tool
// that has none, or "" for an unknown action.
func StripeDescription(action string) string {
	if s, ok := stripeActions[action]; ok {
		return s.desc
	}
	return ""
}

// stripeWrites checks the stripe_writes list: a misspelt entry would
// silently leave a write refused, and a read listed there suggests a
// misunderstanding, so both stop the start.
func stripeWrites(list []string) (map[string]bool, error) {
	allowed := map[string]bool{}
	var errs []error
	for _, name := range list {
		s, ok := stripeActions[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("stripe_writes: %q is not a Stripe write action: use one of %s", name, strings.Join(writeNames(), ", ")))
		case !s.write:
			errs = append(errs, fmt.Errorf("stripe_writes: %q only reads, and reads need no permission: remove it", name))
		default:
			allowed[name] = true
		}
	}
	return allowed, errors.Join(errs...)
}

func writeNames() []string {
	var out []string
	for _, n := range StripeActions() {
		if stripeActions[n].write {
			out = append(out, n)
		}
	}
	return out
}

// stripeConn is the one Stripe client shared by all stripe tools.
type stripeConn struct {
	client *stripe.Client
	key    string // only to scrub it from error text
}

func newStripeConn(cfg config.Stripe, hc *http.Client) (*stripeConn, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("runs a built-in Stripe action but no Stripe API key is set: set STRIPE_SECRET_KEY (or stripe.api_key), preferably to a restricted key (rk_…) with only the permissions these tools need")
	}
	bc := &stripe.BackendConfig{
		HTTPClient: hc,
		// stripe-go retries network errors, 409s and lock timeouts itself;
		// writes are safe to retry because they carry an idempotency key.
		MaxNetworkRetries: stripe.Int64(2),
		// stripe-go would log to stderr in its own format; outcomes are
		// logged by Set.Execute instead.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if cfg.APIBase != "" {
		u, err := url.Parse(cfg.APIBase)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("stripe.api_base must be an absolute http(s) URL such as http://localhost:12111 (stripe-mock), or be left out for https://api.stripe.com")
		}
		bc.URL = stripe.String(cfg.APIBase)
	}
	return &stripeConn{
		client: stripe.NewClient(cfg.APIKey, stripe.WithBackends(stripe.NewBackendsWithConfig(bc))),
		key:    cfg.APIKey,
	}, nil
}

// stripeTool runs one built-in action.
type stripeTool struct {
	action  string
	spec    *stripeSpec
	conn    *stripeConn
	allowed bool
	timeout time.Duration
}

func (*stripeTool) kind() string { return "stripe" }

// newStripeTool checks the action; the caller sets conn, which is built
// only once an action is known to be valid.
func newStripeTool(action string, timeout time.Duration, writes map[string]bool) (*stripeTool, error) {
	spec, ok := stripeActions[action]
	if !ok {
		return nil, fmt.Errorf("run.stripe %q is not a built-in Stripe action: use one of %s", action, strings.Join(StripeActions(), ", "))
	}
	if timeout < 0 {
		return nil, errors.New("run.timeout is negative: use a duration such as 30s")
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &stripeTool{action: action, spec: spec, allowed: !spec.write || writes[action], timeout: timeout}, nil
}

// Execute refuses a write not listed in stripe_writes before anything is
// sent, then runs the action once (stripe-go retries transient failures
// itself). The result is Stripe's JSON with nulls and empty objects left
// out, which saves the model tokens without hiding anything.
func (t *stripeTool) Execute(ctx context.Context, call Call) (Result, error) {
	if !t.allowed {
		return Result{IsError: true, Content: fmt.Sprintf("stripe write %s is not allowed: add it to stripe_writes", t.action)}, nil
	}
	sctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	out, err := t.spec.run(sctx, t.conn.client, call.Input, call.IdempotencyKey)
	if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}
	if err != nil {
		return Result{IsError: true, Content: t.errorText(sctx, err)}, nil
	}
	return Result{Content: clip(compactJSON(out), MaxResultBytes, false)}, nil
}

func (t *stripeTool) errorText(ctx context.Context, err error) string {
	var ie *inputError
	var se *stripe.Error
	var msg string
	switch {
	case errors.As(err, &ie):
		msg = fmt.Sprintf("invalid input for %s: %s", t.action, ie.msg)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		msg = fmt.Sprintf("the Stripe request for %s timed out after %s", t.action, t.timeout)
	case errors.As(err, &se):
		var b strings.Builder
		fmt.Fprintf(&b, "Stripe refused %s", t.action)
		if se.HTTPStatusCode != 0 {
			fmt.Fprintf(&b, " (HTTP %d)", se.HTTPStatusCode)
		}
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace(se.Msg))
		for _, kv := range [][2]string{{"type", string(se.Type)}, {"code", string(se.Code)}, {"decline_code", string(se.DeclineCode)}, {"param", se.Param}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, " [%s: %s]", kv[0], kv[1])
			}
		}
		msg = b.String()
	default:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		msg = fmt.Sprintf("the Stripe request for %s failed: %v", t.action, err)
	}
	// Stripe masks keys in its messages; this is a second line of defence.
	if len(t.conn.key) >= 8 {
		msg = strings.ReplaceAll(msg, t.conn.key, "[stripe key]")
	}
	return msg
}

// stripeObject is any Stripe resource: each embeds APIResource, whose
// LastResponse holds the exact JSON Stripe sent.
type stripeObject interface {
	*stripe.Charge | *stripe.Customer | *stripe.Invoice | *stripe.Subscription | *stripe.Dispute | *stripe.PaymentIntent | *stripe.Refund
}

// body returns the raw JSON of a retrieved or written object: Stripe's own
// answer rather than a re-encoding of stripe-go's structs, which would add
// every field the struct knows as null or zero.
func body[T stripeObject](v T, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	var r *stripe.APIResponse
	switch o := any(v).(type) {
	case *stripe.Charge:
		r = o.LastResponse
	case *stripe.Customer:
		r = o.LastResponse
	case *stripe.Invoice:
		r = o.LastResponse
	case *stripe.Subscription:
		r = o.LastResponse
	case *stripe.Dispute:
		r = o.LastResponse
	case *stripe.PaymentIntent:
		r = o.LastResponse
	case *stripe.Refund:
		r = o.LastResponse
	}
	return rawJSON(r)
}

func listBody[T any](l *stripe.V1List[T]) ([]byte, error) {
	if err := l.Err(); err != nil {
		return nil, err
	}
	return rawJSON(l.LastResponse())
}

func rawJSON(r *stripe.APIResponse) ([]byte, error) {
	if r == nil || len(r.RawJSON) == 0 {
		return nil, errors.New("Stripe sent an empty answer")
	}
	return r.RawJSON, nil
}

// customerDisputes lists disputes for a customer. The disputes API filters
// only by charge or PaymentIntent, not by customer, so this lists the
// customer's latest charges (one page) and, for each one Stripe marks as
// disputed, the disputes on that charge: at most 1+limit requests.
func customerDisputes(ctx context.Context, c *stripe.Client, in *customerListInput, _ *string) ([]byte, error) {
	cp := &stripe.ChargeListParams{Customer: &in.Customer}
	cp.Limit, cp.Single = stripe.Int64(disputeScanCharges), true
	charges := c.V1Charges.List(ctx, cp)
	if err := charges.Err(); err != nil {
		return nil, err
	}
	data := []json.RawMessage{}
	for _, ch := range charges.Data() {
		if !ch.Disputed || int64(len(data)) >= in.limit() {
			continue
		}
		dp := &stripe.DisputeListParams{Charge: stripe.String(ch.ID)}
		dp.Limit, dp.Single = stripe.Int64(10), true
		l := c.V1Disputes.List(ctx, dp)
		raw, err := listBody(l)
		if err != nil {
			return nil, err
		}
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("Stripe sent a dispute list that is not JSON: %w", err)
		}
		data = append(data, page.Data...)
	}
	return json.Marshal(map[string]any{
		"object":           "list",
		"data":             data,
		"charges_searched": len(charges.Data()),
		"more_charges":     charges.Meta().HasMore,
	})
}

func updateDispute(ctx context.Context, c *stripe.Client, in *disputeInput, key *string, submit bool) ([]byte, error) {
	p := &stripe.DisputeUpdateParams{Evidence: in.Evidence, Metadata: in.Metadata}
	if submit {
		p.Submit = stripe.Bool(true)
	}
	p.IdempotencyKey = key
	v, err := c.V1Disputes.Update(ctx, in.ID, p)
	return body(v, err)
}

// compactJSON drops nulls and empty objects from Stripe's answer (a
// charge is about half nulls) and removes whitespace. Numbers keep their
// exact text. Unparseable input is returned as it is.
func compactJSON(raw []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(prune(v)); err != nil {
		return raw
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			e = prune(e)
			if m, ok := e.(map[string]any); e == nil || ok && len(m) == 0 {
				delete(x, k)
				continue
			}
			x[k] = e
		}
	case []any:
		for i, e := range x {
			x[i] = prune(e)
		}
	}
	return v
}

// Inputs. Ids are checked against Stripe's alphabet because they come
// from a model that read untrusted event data: an id must never be able
// to steer the request to another path.

var stripeID = regexp.MustCompile(`^[A-Za-z0-9_]{3,255}$`)

func checkID(field, v string) error {
	if v == "" {
		return badInput("%s is required", field)
	}
	if !stripeID.MatchString(v) {
		return badInput("%s %q is not a Stripe id (letters, digits and _ only, e.g. ch_3Nx…)", field, v)
	}
	return nil
}

type idInput struct {
	ID string `json:"id"`
}

func (in *idInput) check() error { return checkID("id", in.ID) }

type customerListInput struct {
	Customer string `json:"customer"`
	Limit    int64  `json:"limit"`
	Status   string `json:"status"`
}

func (in *customerListInput) check() error {
	if in.Limit < 0 || in.Limit > maxListLimit {
		return badInput("limit must be between 1 and %d", maxListLimit)
	}
	switch in.Status {
	case "", "draft", "open", "paid", "uncollectible", "void":
	default:
		return badInput("status %q is not one of draft, open, paid, uncollectible, void", in.Status)
	}
	return checkID("customer", in.Customer)
}

func (in *customerListInput) limit() int64 {
	if in.Limit == 0 {
		return defaultListLimit
	}
	return in.Limit
}

type refundInput struct {
	Charge        string            `json:"charge"`
	PaymentIntent string            `json:"payment_intent"`
	Amount        *int64            `json:"amount"`
	Reason        string            `json:"reason"`
	Metadata      map[string]string `json:"metadata"`
}

func (in *refundInput) check() error {
	switch {
	case (in.Charge == "") == (in.PaymentIntent == ""):
		return badInput("give exactly one of charge or payment_intent")
	case in.Amount != nil && *in.Amount <= 0:
		return badInput("amount must be a positive integer in the currency's smallest unit (e.g. cents), or left out for a full refund")
	}
	switch in.Reason {
	case "", "duplicate", "fraudulent", "requested_by_customer":
	default:
		return badInput("reason %q is not one of duplicate, fraudulent, requested_by_customer", in.Reason)
	}
	if in.Charge != "" {
		return checkID("charge", in.Charge)
	}
	return checkID("payment_intent", in.PaymentIntent)
}

type disputeInput struct {
	ID       string                              `json:"id"`
	Evidence *stripe.DisputeUpdateEvidenceParams `json:"evidence"`
	Metadata map[string]string                   `json:"metadata"`
}

func (in *disputeInput) check() error { return checkID("id", in.ID) }

// disputeUpdateInput is disputeInput for dispute.update, where an update
// without evidence or metadata would do nothing.
type disputeUpdateInput struct{ disputeInput }

func (in *disputeUpdateInput) check() error {
	if in.Evidence == nil && len(in.Metadata) == 0 {
		return badInput("give evidence (or metadata) to update; to submit the evidence already saved use dispute.submit")
	}
	return in.disputeInput.check()
}

type cancelInput struct {
	ID         string `json:"id"`
	InvoiceNow *bool  `json:"invoice_now"`
	Prorate    *bool  `json:"prorate"`
	Comment    string `json:"comment"`
	Feedback   string `json:"feedback"`
}

var cancelFeedback = []string{"customer_service", "low_quality", "missing_features", "other", "switched_service", "too_complex", "too_expensive", "unused"}

func (in *cancelInput) check() error {
	if in.Feedback != "" && !slices.Contains(cancelFeedback, in.Feedback) {
		return badInput("feedback %q is not one of %s", in.Feedback, strings.Join(cancelFeedback, ", "))
	}
	return checkID("id", in.ID)
}

// Schemas. Each is built on demand so callers get a map of their own.

func schemaObject(props map[string]any, required ...string) map[string]any {
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func strProp(desc string) map[string]any {
	return map[string]any{"type": "string", "description": desc}
}

func enumProp(desc string, values ...string) map[string]any {
	return map[string]any{"type": "string", "description": desc, "enum": values}
}

func idSchema(what, prefix string) func() map[string]any {
	return func() map[string]any {
		return schemaObject(map[string]any{"id": strProp(fmt.Sprintf("The %s id (%s…).", what, prefix))}, "id")
	}
}

func customerListSchema(statuses []string) func() map[string]any {
	return func() map[string]any {
		props := map[string]any{
			"customer": strProp("The customer id (cus_…)."),
			"limit": map[string]any{"type": "integer", "minimum": 1, "maximum": maxListLimit,
				"description": fmt.Sprintf("How many to return, newest first (default %d).", defaultListLimit)},
		}
		if statuses != nil {
			props["status"] = enumProp("Only invoices with this status.", statuses...)
		}
		return schemaObject(props, "customer")
	}
}

func refundSchema() map[string]any {
	return schemaObject(map[string]any{
		"charge":         strProp("The charge to refund (ch_… or py_…). Give this or payment_intent."),
		"payment_intent": strProp("The PaymentIntent to refund (pi_…). Give this or charge."),
		"amount": map[string]any{"type": "integer", "minimum": 1,
			"description": "Amount to refund in the currency's smallest unit (e.g. cents). Leave out to refund everything not yet refunded."},
		"reason":   enumProp("Why the refund is made.", "duplicate", "fraudulent", "requested_by_customer"),
		"metadata": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "description": "Key-value notes stored on the refund."},
	})
}

// disputeTextEvidence and disputeFileEvidence are the evidence fields
// offered to the model; the input also accepts any other field of
// Stripe's evidence object.
var (
	disputeTextEvidence = []string{
		"access_activity_log", "billing_address", "cancellation_policy_disclosure", "cancellation_rebuttal",
		"customer_email_address", "customer_name", "customer_purchase_ip", "duplicate_charge_explanation",
		"duplicate_charge_id", "product_description", "refund_policy_disclosure", "refund_refusal_explanation",
		"service_date", "shipping_address", "shipping_carrier", "shipping_date", "shipping_tracking_number",
		"uncategorized_text",
	}
	disputeFileEvidence = []string{
		"cancellation_policy", "customer_communication", "customer_signature", "duplicate_charge_documentation",
		"receipt", "refund_policy", "service_documentation", "shipping_documentation", "uncategorized_file",
	}
)

func disputeSchema(evidenceRequired bool) func() map[string]any {
	return func() map[string]any {
		ev := map[string]any{}
		for _, f := range disputeTextEvidence {
			ev[f] = strProp(strings.ReplaceAll(f, "_", " ") + " (text).")
		}
		for _, f := range disputeFileEvidence {
			ev[f] = strProp(strings.ReplaceAll(f, "_", " ") + ": the id of an uploaded file (file_…).")
		}
		props := map[string]any{
			"id": strProp("The dispute id (dp_…)."),
			"evidence": map[string]any{"type": "object", "properties": ev, "additionalProperties": false,
				"description": "Evidence for the bank; fields left out keep their current value. Stripe limits the combined text to 150,000 characters."},
			"metadata": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "description": "Key-value notes stored on the dispute."},
		}
		if evidenceRequired {
			return schemaObject(props, "id", "evidence")
		}
		return schemaObject(props, "id")
	}
}

func cancelSchema() map[string]any {
	return schemaObject(map[string]any{
		"id":          strProp("The subscription id (sub_…)."),
		"invoice_now": map[string]any{"type": "boolean", "description": "Invoice any pending usage or proration now."},
		"prorate":     map[string]any{"type": "boolean", "description": "Credit the unused time of the current period."},
		"comment":     strProp("Why the subscription is cancelled, stored in cancellation_details."),
		"feedback":    enumProp("The customer's stated reason, if known.", cancelFeedback...),
	}, "id")
}
